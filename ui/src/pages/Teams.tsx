import { OwnerPage } from './Entities'

export const TeamsPage = () => <OwnerPage kind="teams" />

import { OwnerPage } from './Entities'

export const CustomersPage = () => <OwnerPage kind="customers" />

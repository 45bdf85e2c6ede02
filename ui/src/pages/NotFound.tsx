import { Button, Code, Stack, Text } from '@mantine/core'
import { Link, useLocation } from 'react-router-dom'
import { Empty, PageHeader } from '../components'

/** An address under the UI that names no page: say so, and offer the way back. */
export function NotFoundPage() {
  const { pathname } = useLocation()
  return (
    <>
      <PageHeader title="Page not found" />
      <Stack align="flex-start">
        <Empty title="There is no page here" hint="The address may be mistyped, or the page was moved." />
        <Text size="sm">
          <Code>{pathname}</Code> is not a page of this console.
        </Text>
        <Button component={Link} to="/dashboard">
          Go to the dashboard
        </Button>
      </Stack>
    </>
  )
}

// The HTTP server: createHeimdall, for the CLI.
export { createHeimdall } from './app.js'

import net from 'node:net'

/** A loopback port nothing listens on: bound, then released. */
export async function freePort(): Promise<number> {
  return await new Promise((done, fail) => {
    const srv = net.createServer()
    srv.once('error', fail)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo
      srv.close(() => done(port))
    })
  })
}

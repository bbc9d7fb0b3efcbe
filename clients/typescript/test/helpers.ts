/** Test helpers: the live server's address, a cuttable TCP proxy, timeouts. */
import { createServer, Socket, type AddressInfo, type Server } from "node:net";

/** The live jobsvc server (`JOBSVC_SERVER`), or undefined when unset. */
export const SERVER: string | undefined = process.env["JOBSVC_SERVER"] || undefined;

/** `skip` option for tests that need the live server. */
export const needsServer = SERVER === undefined ? "JOBSVC_SERVER is not set" : false;

/** The live server's address; only call from tests skipped without one. */
export function server(): string {
  if (SERVER === undefined) throw new Error("JOBSVC_SERVER is not set");
  return SERVER;
}

/** Reject after `ms` with a clear message (tests never hang). */
export function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolve after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A loopback TCP proxy in front of `target` whose open connections can be cut. */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(private readonly target: string) {}

  /** Listen on 127.0.0.1 (port 0); resolves to `host:port`. */
  async start(): Promise<string> {
    const [host, portText] = splitAddress(this.target);
    const server = createServer((client) => {
      this.accepted += 1;
      const upstream = new Socket();
      upstream.connect(Number(portText), host);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Drop every open connection (RST), as a failing network would; new ones are still accepted. */
  cut(): void {
    for (const socket of this.sockets) socket.resetAndDestroy();
    this.sockets.clear();
  }

  /** Cut everything and stop listening. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function splitAddress(address: string): [string, string] {
  const at = address.lastIndexOf(":");
  return [address.slice(0, at).replace(/^\[|\]$/g, ""), address.slice(at + 1)];
}

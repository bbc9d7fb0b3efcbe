/** The HTTP/2 gRPC transport shared by the client and the worker. */
import type { SecureClientSessionOptions } from "node:http2";
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";

/** A bearer token, or a function that returns the current one (called per RPC). */
export type TokenSource = string | (() => string | Promise<string>);

/** Where and how to connect to a jobsvc server. */
export interface ConnectionOptions {
  /** `host:port` (plaintext unless `tls`), or a URL `http://host:port` / `https://host:port`. */
  address: string;
  /** `true` for TLS with the system's roots, or Node's TLS options (`ca`, `cert`, `key`, `servername`). */
  tls?: boolean | SecureClientSessionOptions;
  /** Sent on every RPC as `authorization: Bearer <token>`. */
  token?: TokenSource;
  /** Extra headers (gRPC metadata) sent on every RPC. */
  headers?: Record<string, string>;
  /** More interceptors, run after the ones that add the token and headers. */
  interceptors?: Interceptor[];
  /** HTTP/2 PING interval that detects a dead connection on long streams (default: off). */
  pingIntervalMs?: number;
}

/** A transport bound to one HTTP/2 connection manager, which `close()` shuts. */
export interface Channel {
  readonly transport: Transport;
  /** Close the connection and every open stream on it. */
  close(): void;
}

/** The base URL for an address: `127.0.0.1:50051` becomes `http://127.0.0.1:50051`. */
export function baseUrl(address: string, tls: ConnectionOptions["tls"]): string {
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, "");
  return `${tls ? "https" : "http"}://${address}`;
}

/** An interceptor that sends `authorization: Bearer <token>`. */
export function bearerToken(token: TokenSource): Interceptor {
  return (next) => async (request) => {
    const value = typeof token === "string" ? token : await token();
    request.header.set("authorization", `Bearer ${value}`);
    return next(request);
  };
}

/** An interceptor that adds fixed headers to every RPC. */
export function staticHeaders(headers: Record<string, string>): Interceptor {
  return (next) => (request) => {
    for (const [name, value] of Object.entries(headers)) request.header.set(name, value);
    return next(request);
  };
}

/** Open a channel (lazily: the connection is made by the first RPC) speaking the gRPC protocol. */
export function createChannel(options: ConnectionOptions): Channel {
  const url = baseUrl(options.address, options.tls);
  const nodeOptions: SecureClientSessionOptions = typeof options.tls === "object" ? options.tls : {};
  const sessionManager = new Http2SessionManager(
    url,
    options.pingIntervalMs === undefined ? {} : { pingIntervalMs: options.pingIntervalMs },
    nodeOptions,
  );
  const interceptors: Interceptor[] = [];
  if (options.token !== undefined) interceptors.push(bearerToken(options.token));
  if (options.headers !== undefined) interceptors.push(staticHeaders(options.headers));
  interceptors.push(...(options.interceptors ?? []));
  const transport = createGrpcTransport({ baseUrl: url, sessionManager, interceptors });
  return { transport, close: () => sessionManager.abort() };
}

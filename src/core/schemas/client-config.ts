import { Type, type Static } from '@sinclair/typebox'

/** The `client` section of config.json: gateway-wide behaviour. */
export const ClientConfigSchema = Type.Object(
  {
    drop_excess_requests: Type.Optional(Type.Boolean()),
    enforce_auth_on_inference: Type.Optional(Type.Boolean()),
    allow_direct_keys: Type.Optional(Type.Boolean()),
    max_request_body_size_mb: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    allowed_origins: Type.Optional(Type.Array(Type.String())),
    enable_logging: Type.Optional(Type.Boolean()),
    disable_content_logging: Type.Optional(Type.Boolean()),
    log_retention_days: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Heimdall: the most upstream attempts one request may make, retries and fallbacks included. */
    max_total_attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
    /** Management routes reachable without admin auth, besides the built-in public ones. */
    whitelisted_routes: Type.Optional(Type.Array(Type.String())),
    /** Heimdall: seconds in-flight requests and streams get to finish on shutdown. */
    shutdown_timeout_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600 })),
    /** Heimdall: seconds a client has to send a request's headers. */
    request_headers_timeout_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
    /** Heimdall: seconds a client has to send a whole request, headers and body; the answer (a stream) is not limited. */
    request_timeout_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
    /** Heimdall: seconds an idle keep-alive connection stays open. */
    keep_alive_timeout_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 3600 })),
    /** Heimdall: most characters of a request's or an answer's body a log entry keeps; longer ones are cut and marked. */
    log_max_content_chars: Type.Optional(Type.Integer({ minimum: 1024 })),
    /** Heimdall: most connections open at once from one client address; 0: no cap. */
    max_connections_per_client: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Heimdall: seconds of upstream silence after which a stream gets an SSE comment (`: keep-alive`); 0: never. */
    stream_keepalive_seconds: Type.Optional(Type.Number({ minimum: 0, maximum: 600 })),
    /** Most agent rounds (auto-executed MCP tools, then the model again) per chat completion; 0: off. */
    mcp_agent_depth: Type.Optional(Type.Integer({ minimum: 0 })),
    /** How long a rotated virtual key's old value keeps working: a Go duration ("5m") or integer nanoseconds; at most 30 days. */
    vk_rotation_cooldown: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0 })])),
  },
  { additionalProperties: true },
)
export type ClientConfig = Static<typeof ClientConfigSchema>

export const DEFAULT_CLIENT = {
  drop_excess_requests: false,
  enforce_auth_on_inference: false,
  allow_direct_keys: false,
  max_request_body_size_mb: 100,
  max_total_attempts: 10,
  shutdown_timeout_seconds: 30,
  request_headers_timeout_seconds: 30,
  request_timeout_seconds: 60,
  keep_alive_timeout_seconds: 72,
  max_connections_per_client: 256,
  log_max_content_chars: 1_048_576,
} as const

export const StoreSpecSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    type: Type.Union([Type.Literal('sqlite'), Type.Literal('postgres')]),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: true },
)
export type StoreSpec = Static<typeof StoreSpecSchema>

/** config.json, in Bifrost's format. Sections other issues own are kept open here. */
export const ConfigFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    version: Type.Optional(Type.Integer()),
    encryption_key: Type.Optional(Type.String()),
    client: Type.Optional(ClientConfigSchema),
    providers: Type.Optional(Type.Record(Type.String(), Type.Record(Type.String(), Type.Unknown()))),
    config_store: Type.Optional(StoreSpecSchema),
    logs_store: Type.Optional(StoreSpecSchema),
    auth_config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    governance: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    mcp: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    /** Bifrost's plugins: `{name, enabled, config}` (`telemetry` for /metrics, `otel` for traces ...). */
    plugins: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.String(),
            enabled: Type.Optional(Type.Boolean()),
            config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
            /** A custom plugin's ES module, relative to the config file. */
            path: Type.Optional(Type.Union([Type.String(), Type.Null()])),
            placement: Type.Optional(
              Type.Union([Type.Literal('pre_builtin'), Type.Literal('post_builtin'), Type.Null()]),
            ),
            order: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
          },
          { additionalProperties: true },
        ),
      ),
    ),
    /** Heimdall: shared counters and change events for several nodes (Redis). */
    cluster: Type.Optional(
      Type.Object(
        {
          redis_url: Type.Optional(Type.String()),
          prefix: Type.Optional(Type.String()),
          /** How long a budget or rate-limit hold counts when its request never settles it; default request_timeout_seconds + 60. */
          reservation_ttl_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86_400 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: true },
)
export type ConfigFile = Static<typeof ConfigFileSchema>

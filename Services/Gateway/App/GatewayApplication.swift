import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceKit

/// Everything the gateway reads at start: the route file and the variables it and the auth schemes need.
public struct GatewaySettings: Sendable {
    public var config: GatewayConfig
    public var internalSecret: String
    public var supabaseJWTSecret: String?
    public var jwksURL: String?
    /// Values of the variables named by `bearer-secret(…)` and `stripe-signature(…)` routes.
    public var secrets: [String: String]
    public var cors: CORSPolicy
    public var logLevel: Logger.Level = .info
    /// How long devops-api may take to check a key before the request is 503 (a lookup happens once per key per TTL,
    /// and a first one may wait for devops-api's database connection; `GATEWAY_API_KEY_TIMEOUT_MS`).
    public var apiKeyLookupTimeout: Duration = .seconds(5)
    public var apiKeyCacheTTL: Duration = .seconds(10)
    /// How old the last good JWKS may grow while its server is down before RS256/ES256 tokens are refused.
    public var jwksMaxStaleness: Duration = .seconds(3600)
    public var readinessTimeout: Duration = .seconds(2)
    /// Upstream connections `stream=true` routes may hold open to one service at once (`GATEWAY_MAX_STREAMS`).
    public var maxStreams = 10_000
    /// `/metrics` is served on its own listener, never on the public port (`GATEWAY_METRICS_HOST`, `GATEWAY_METRICS_PORT`).
    public var metricsHost = "127.0.0.1"
    public var metricsPort = 9090
    /// Told the metrics listener's port once it listens (port 0 lets the system choose one).
    public var onMetricsListening: @Sendable (Int) async -> Void = { _ in }
    /// Failed authentications one client address may make before it is refused (`GATEWAY_AUTH_FAILURE_LIMIT`).
    public var authFailureLimit = RateLimit(requests: 20, windowSeconds: 60)
    /// Seconds since 1970, for the rate limits' windows; tests hold it still.
    public var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    public init(
        config: GatewayConfig,
        internalSecret: String,
        supabaseJWTSecret: String?,
        jwksURL: String? = nil,
        secrets: [String: String] = [:],
        cors: CORSPolicy = .none
    ) {
        self.config = config
        self.internalSecret = internalSecret
        self.supabaseJWTSecret = supabaseJWTSecret
        self.jwksURL = jwksURL
        self.secrets = secrets
        self.cors = cors
    }

    /// Reads the route file and checks that every variable a route relies on is set.
    public static func load(configPath: String, environment: EnvironmentReader) throws -> GatewaySettings {
        let text: String
        do {
            text = try String(contentsOfFile: configPath, encoding: .utf8)
        } catch {
            throw ConfigurationError(variable: "GATEWAY_CONFIG", expected: "must name a readable route file (\(configPath) cannot be read)")
        }
        let config = try GatewayConfig.parse(text, file: configPath, environment: environment.values)
        var settings = GatewaySettings(
            config: config,
            internalSecret: try environment.secret("INTERNAL_SECRET"),
            supabaseJWTSecret: environment.optional("SUPABASE_JWT_SECRET") == nil ? nil : try environment.secret("SUPABASE_JWT_SECRET"),
            jwksURL: environment.optional("JWT_JWKS_URL"),
            cors: try CORSPolicy.parse(
                origins: environment.optional("CORS_ORIGINS"),
                allowCredentials: environment.optional("CORS_ALLOW_CREDENTIALS")
            )
        )
        settings.logLevel = try environment.logLevel()
        settings.jwksMaxStaleness = .seconds(try environment.integer("JWT_JWKS_MAX_STALENESS_SECONDS", default: 3600, in: 60...604_800))
        settings.maxStreams = try environment.integer("GATEWAY_MAX_STREAMS", default: settings.maxStreams, in: 1...1_000_000)
        settings.apiKeyLookupTimeout = .milliseconds(try environment.integer("GATEWAY_API_KEY_TIMEOUT_MS", default: 5000, in: 100...60_000))
        settings.metricsHost = environment.optional("GATEWAY_METRICS_HOST") ?? settings.metricsHost
        settings.metricsPort = try environment.integer("GATEWAY_METRICS_PORT", default: settings.metricsPort, in: 0...65535)
        if let text = environment.optional("GATEWAY_AUTH_FAILURE_LIMIT") {
            guard let limit = GatewayConfig.parseLimit(text) else {
                throw ConfigurationError(variable: "GATEWAY_AUTH_FAILURE_LIMIT", expected: "must look like 20/minute (second, minute or hour)")
            }
            settings.authFailureLimit = limit
        }
        for route in config.routes {
            if let variable = route.auth.secretVariable {
                settings.secrets[variable] = try environment.required(
                    variable,
                    expecting: "the secret for \(route.auth) (\(configPath):\(route.line))"
                )
            }
            if route.auth.needsUserTokens, settings.supabaseJWTSecret == nil, settings.jwksURL == nil {
                throw ConfigurationError(variable: "SUPABASE_JWT_SECRET", expected: "or JWT_JWKS_URL is required by \(configPath):\(route.line)")
            }
            if case .apiKey = route.auth, config.upstream(named: "devops-api") == nil {
                throw ConfigurationError(
                    variable: "GATEWAY_CONFIG",
                    expected: "needs a devops-api service for api-key routes (\(configPath):\(route.line))"
                )
            }
        }
        return settings
    }
}

/// The gateway: its own probes and metrics, then the route table, then the frontend's static files.
public func buildGateway(_ settings: GatewaySettings, metrics: HTTPMetrics = HTTPMetrics()) async -> ServiceApplication {
    let logger = {
        var logger = Logger(label: "gateway")
        logger.logLevel = settings.logLevel
        return logger
    }()
    var httpConfiguration = HTTPClient.Configuration.internalCalls
    httpConfiguration.timeout = .init(connect: .seconds(1), read: nil)
    func client(connectionsPerHost: Int) -> HTTPClient {
        var configuration = httpConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }
    let http = client(connectionsPerHost: 64)
    // Each open stream holds its upstream connection for as long as the client stays.
    let streams = client(connectionsPerHost: settings.maxStreams)
    let tokens = await IdentityTokens(secret: settings.internalSecret)
    let upstreams = Dictionary(uniqueKeysWithValues: settings.config.services.map { ($0.name, $0.url) })
    let jwks = settings.jwksURL.map { JWKSCache(url: $0, http: http, maxStaleness: settings.jwksMaxStaleness) }
    let apiKeys = upstreams["devops-api"].map {
        APIKeyVerifier(
            client: InternalClient(
                http: http,
                tokens: tokens,
                serviceName: "gateway",
                retry: .init(maxRetries: 0, baseDelay: .zero, maxDelay: .zero)
            ),
            devopsURL: $0,
            timeout: settings.apiKeyLookupTimeout,
            cacheTTL: settings.apiKeyCacheTTL
        )
    }
    let authenticator = Authenticator(
        users: await UserTokenVerifier(hmacSecret: settings.supabaseJWTSecret, jwks: jwks),
        secrets: settings.secrets,
        apiKeys: apiKeys,
        metrics: metrics
    )

    let router = Router(context: ServiceRequestContext.self, options: .autoGenerateHeadEndpoints)
    let table = RouteTable(settings.config.routes)
    let upstreamOfRoute = Dictionary(settings.config.routes.map { ($0.label, $0.service) }, uniquingKeysWith: { first, _ in first })
    router.add(middleware: RequestTrackingMiddleware(metrics: metrics, upstreamOfRoute: { upstreamOfRoute[$0] }))
    router.add(middleware: SecurityHeadersMiddleware())
    router.add(middleware: CORSMiddleware(policy: settings.cors, table: table))
    router.add(middleware: ErrorEnvelopeMiddleware())
    router.get("/health") { _, _ in HealthStatus(status: "ok", service: "gateway") }
    let readiness = ReadinessCache(upstreams: settings.config.services, http: http, timeout: settings.readinessTimeout, clock: settings.clock)
    router.get("/health/ready") { _, context in
        await readiness.report().response(requestID: context.requestID)
    }
    router.add(
        middleware: ProxyMiddleware(
            table: table,
            upstreams: upstreams,
            authenticator: authenticator,
            limiter: RateLimiter(),
            authFailureLimit: settings.authFailureLimit,
            clock: settings.clock,
            tokens: tokens,
            http: http,
            streams: streams
        )
    )
    if let frontend = settings.config.frontend {
        router.add(middleware: FileMiddleware(frontend, searchForIndexHtml: true, logger: logger))
    }

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(settings.config.listenHost, port: settings.config.listenPort), serverName: "gateway"),
        logger: logger
    )
    app.addServices(HTTPClientService(client: http), HTTPClientService(client: streams), metricsListener(settings, metrics: metrics, logger: logger))
    return app
}

/// The internal listener for Prometheus: `/metrics` only.
func metricsListener(_ settings: GatewaySettings, metrics: HTTPMetrics, logger: Logger) -> some ApplicationProtocol {
    let router = Router(options: .autoGenerateHeadEndpoints)
    router.get("/metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition()))
        )
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.metricsHost, port: settings.metricsPort), serverName: "gateway-metrics"),
        onServerRunning: { channel in await settings.onMetricsListening(channel.localAddress?.port ?? settings.metricsPort) },
        logger: logger
    )
}

/// `/health/ready` asks every upstream at most once a second, however often it is called: callers within the same
/// second share one report, and concurrent callers one check.
actor ReadinessCache {
    let upstreams: [GatewayConfig.Upstream]
    let http: HTTPClient
    let timeout: Duration
    let clock: @Sendable () -> Int64
    private var latest: (second: Int64, report: Task<ReadinessReport, Never>)?

    init(upstreams: [GatewayConfig.Upstream], http: HTTPClient, timeout: Duration, clock: @escaping @Sendable () -> Int64) {
        self.upstreams = upstreams
        self.http = http
        self.timeout = timeout
        self.clock = clock
    }

    func report() async -> ReadinessReport {
        let second = clock()
        if let latest, latest.second == second { return await latest.report.value }
        let check = Task { [upstreams, http, timeout] in await ReadinessReport.check(upstreams, http: http, timeout: timeout) }
        latest = (second, check)
        return await check.value
    }
}

/// `/health/ready`: every upstream's `/ready`, asked at once.
struct ReadinessReport: Codable, Sendable {
    var status: String
    var services: [String: String]
    var notReady: [String]

    enum CodingKeys: String, CodingKey {
        case status, services
        case notReady = "not_ready"
    }

    static func check(_ upstreams: [GatewayConfig.Upstream], http: HTTPClient, timeout: Duration) async -> ReadinessReport {
        let states = await withTaskGroup(of: (String, String).self) { group in
            for upstream in upstreams {
                group.addTask {
                    var request = HTTPClientRequest(url: upstream.url + "/ready")
                    request.method = .GET
                    do {
                        let response = try await http.execute(request, timeout: TimeAmount(timeout))
                        _ = try await response.body.collect(upTo: 64 * 1024)
                        return (upstream.name, response.status == .ok ? "ready" : "not_ready (\(response.status.code))")
                    } catch {
                        return (upstream.name, "unreachable")
                    }
                }
            }
            return await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
        }
        let notReady = states.filter { $0.value != "ready" }.keys.sorted()
        return ReadinessReport(status: notReady.isEmpty ? "ready" : "not_ready", services: states, notReady: notReady)
    }

    func response(requestID: String) -> Response {
        let body = (try? JSONEncoder().encode(self)) ?? Data()
        return Response(
            status: notReady.isEmpty ? .ok : .serviceUnavailable,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: body))
        )
    }
}

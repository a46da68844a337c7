import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// What makes one service different from another: its name, schema, default port and migrations.
public struct ServiceDescriptor: Sendable {
    public let name: String
    public let schema: String
    public let defaultPort: Int
    public let migrations: [Migration]
    /// Schemas the service shares with others (`stream`), migrated before its own.
    public let sharedSchemas: [MigrationRunner]

    public init(name: String, schema: String, defaultPort: Int, migrations: [Migration], sharedSchemas: [MigrationRunner] = []) {
        self.name = name
        self.schema = schema
        self.defaultPort = defaultPort
        self.migrations = migrations
        self.sharedSchemas = sharedSchemas
    }

    /// `billing-webhooks` → `BILLING_WEBHOOKS_PORT`.
    public var portVariable: String { name.uppercased().replacingOccurrences(of: "-", with: "_") + "_PORT" }
    public var migrationRunner: MigrationRunner { MigrationRunner(schema: schema, migrations: migrations) }

    /// Applies the shared schemas' pending migrations, then its own; returns the versions of its own it applied.
    @discardableResult
    public func migrate(on client: PostgresClient, logger: Logger) async throws -> [Int] {
        for shared in sharedSchemas { try await shared.run(on: client, logger: logger) }
        return try await migrationRunner.run(on: client, logger: logger)
    }
}

/// The long-lived parts a service's routes are built on.
public struct ServiceEnvironment: Sendable {
    public let descriptor: ServiceDescriptor
    public let configuration: ServiceConfiguration
    public let postgres: PostgresClient
    public let internalClient: InternalClient
    public let logger: Logger
    /// The registry `/metrics` exposes, for a service's own counters.
    public let metrics: HTTPMetrics
}

public typealias ServiceApplication = Application<RouterResponder<ServiceRequestContext>>

/// The application every service runs: request tracking, the error envelope, identity checks, the input rule, the probe
/// endpoints, Postgres and the internal client as services of its `ServiceGroup`, migrations before start.
/// `bodyLimit` bounds the body any request may carry (413 above it).
public func buildServiceApplication(
    _ descriptor: ServiceDescriptor,
    configuration: ServiceConfiguration,
    metrics: HTTPMetrics = HTTPMetrics(),
    bodyLimit: Int = 4 * 1024 * 1024,
    addRoutes: (Router<ServiceRequestContext>, ServiceEnvironment) -> Void = { _, _ in }
) async -> ServiceApplication {
    let logger = {
        var logger = Logger(label: descriptor.name)
        logger.logLevel = configuration.logLevel
        return logger
    }()
    let postgres = PostgresClient(configuration: configuration.database, backgroundLogger: logger)
    let tokens = await IdentityTokens(secret: configuration.internalSecret)
    let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .internalCalls)
    let environment = ServiceEnvironment(
        descriptor: descriptor,
        configuration: configuration,
        postgres: postgres,
        internalClient: InternalClient(http: http, tokens: tokens, serviceName: descriptor.name),
        logger: logger,
        metrics: metrics
    )

    let router = Router(context: ServiceRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: RequestTrackingMiddleware(metrics: metrics))
    router.add(middleware: ErrorEnvelopeMiddleware())
    router.add(middleware: IdentityMiddleware(tokens: tokens))
    router.add(middleware: StorableInputMiddleware(bodyLimit: bodyLimit))
    addProbeRoutes(to: router, environment: environment, metrics: metrics)
    addRoutes(router, environment)

    var app = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: descriptor.name),
        logger: logger
    )
    app.addServices(postgres, HTTPClientService(client: http))
    if configuration.migrateOnStart {
        app.beforeServerStarts {
            try await descriptor.migrate(on: postgres, logger: logger)
        }
    }
    return app
}

func addProbeRoutes(to router: Router<ServiceRequestContext>, environment: ServiceEnvironment, metrics: HTTPMetrics) {
    router.get("/health") { _, _ in
        HealthStatus(status: "ok", service: environment.descriptor.name)
    }
    router.get("/ready") { _, context in
        let runner = environment.descriptor.migrationRunner
        let version: Int?
        do {
            version = try await runner.currentVersion(on: environment.postgres, logger: context.logger)
        } catch {
            context.logger.warning("readiness check failed", metadata: ["error": .string(String(reflecting: error))])
            throw APIError(.serviceUnavailable, "database_unreachable", "the database cannot be reached")
        }
        guard let version, version >= runner.latestVersion else {
            throw APIError(.serviceUnavailable, "migrations_pending", "schema \(runner.schema) is not migrated to version \(runner.latestVersion)")
        }
        return HealthStatus(status: "ready", service: environment.descriptor.name)
    }
    router.get("/metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.exposition()))
        )
    }
}

public struct HealthStatus: ResponseCodable, Sendable {
    public let status: String
    public let service: String

    public init(status: String, service: String) {
        self.status = status
        self.service = service
    }
}

extension HTTPClient.Configuration {
    /// Internal calls never follow redirects and give up on a dead peer quickly.
    public static var internalCalls: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(2), read: .seconds(30))
        return configuration
    }
}

/// Shuts an `HTTPClient` down when its `ServiceGroup` does, as AsyncHTTPClient requires.
public struct HTTPClientService: Service {
    public let client: HTTPClient

    public init(client: HTTPClient) {
        self.client = client
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

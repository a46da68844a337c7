import AsyncHTTPClient
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceLifecycle

extension TestSupport {
    public static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let stripeWebhookSecret = "whsec_test_0123456789abcdef0123456789"
    public static let stripeConnectWebhookSecret = "whsec_test_connect_0123456789abcdef"
    public static let cronSecret = "test-cron-secret-0123456789abcdef"
    public static let crmEventsKey = "test-crm-events-key-0123456789abcdef"
    public static let gcpBudgetPushToken = "test-gcp-budget-push-token-0123456789"

    /// The variables the real `gateway.conf` needs, with each service at the URL given (the rest at a closed port).
    /// The metrics listener takes any free port.
    public static func gatewayEnvironment(services: [String: String]) -> [String: String] {
        var environment = [
            "INTERNAL_SECRET": internalSecret,
            "SUPABASE_JWT_SECRET": userSecret,
            "STRIPE_WEBHOOK_SECRET": stripeWebhookSecret,
            "STRIPE_CONNECT_WEBHOOK_SECRET": stripeConnectWebhookSecret,
            "CRON_SECRET": cronSecret,
            "CRM_EVENTS_KEY": crmEventsKey,
            "GCP_BUDGET_PUSH_TOKEN": gcpBudgetPushToken,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": "0",
            "GATEWAY_METRICS_PORT": "0",
            "LOG_LEVEL": "warning",
            "FRONTEND_DIR": repositoryRoot.appendingPathComponent("frontend").path,
        ]
        let closed = "http://127.0.0.1:\(refusingPort)"
        for name in ["billing-webhooks", "stripe-sync", "insights-usage", "revio-data", "crm-relay", "devops-api"] {
            environment[name.uppercased().replacingOccurrences(of: "-", with: "_") + "_URL"] = services[name] ?? closed
        }
        return environment
    }

    /// A live gateway running the repository's `gateway.conf` in front of the services given by name.
    public static func withGateway<Value: Sendable>(
        services: [String: String],
        _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        try await withGatewayAndMetrics(services: services) { gateway, _ in try await body(gateway) }
    }

    /// A live gateway as `withGateway` runs it, with the URL of its metrics listener once that listens.
    public static func withGatewayAndMetrics<Value: Sendable>(
        services: [String: String],
        _ body: @Sendable (any TestClientProtocol, _ metricsURL: String) async throws -> Value
    ) async throws -> Value {
        var settings = try GatewaySettings.load(
            configPath: repositoryRoot.appendingPathComponent("gateway.conf").path,
            environment: EnvironmentReader(gatewayEnvironment(services: services))
        )
        let (listening, announce) = AsyncStream.makeStream(of: Int.self)
        settings.onMetricsListening = { port in announce.yield(port) }
        return try await buildGateway(settings).test(.live) { gateway in
            var ports = listening.makeAsyncIterator()
            guard let port = await ports.next() else { throw CancellationError() }
            return try await body(gateway, "http://127.0.0.1:\(port)")
        }
    }

    /// A user's bearer token, signed as Supabase signs them.
    public static func userToken(_ subject: String, email: String? = nil, admin: Bool = false, lifetime: TimeInterval = 3600) async throws -> String {
        try await UserTokenVerifier.mint(
            UserClaims(subject: subject, email: email, admin: admin, issuedAt: Date(), lifetime: lifetime),
            hmacSecret: userSecret
        )
    }
}

extension TestSupport {
    /// Runs a service application on the port its configuration names (for a service that must be reachable at an
    /// address chosen before it starts), until `body` returns; then shuts it down gracefully, as SIGTERM would.
    /// (Cancelling it instead would stop Postgres while its services still write to it, and a query on a stopped
    /// `PostgresClient` never returns.)
    /// A port chosen in advance can be taken by another test's server before the service binds it; then that other
    /// server answers `/health` and `PortTaken` is thrown, for the caller to try another port.
    public static func withRunningService<Value: Sendable>(
        _ app: ServiceApplication,
        named name: String,
        port: Int,
        _ body: @Sendable () async throws -> Value
    ) async throws -> Value {
        let services = ServiceGroup(configuration: .init(services: [app], logger: app.logger))
        return try await withThrowingTaskGroup(of: Value?.self) { group in
            group.addTask {
                try await services.run()
                return nil
            }
            do {
                try await withHTTPClient { http in
                    try await eventually("the service on port \(port) to answer /health") {
                        guard let response = try? await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(1)),
                            response.status == .ok
                        else { return false }
                        let health = try? JSONDecoder().decode(HealthStatus.self, from: try await response.body.collect(upTo: 4096))
                        guard health?.service == name else { throw PortTaken(port: port) }
                        return true
                    }
                }
                let value = try await body()
                await services.triggerGracefulShutdown()
                return value
            } catch {
                await services.triggerGracefulShutdown()
                throw error
            }
        }
    }
}

/// Another server holds the port a service was to listen on.
public struct PortTaken: Error, CustomStringConvertible {
    public let port: Int
    public var description: String { "port \(port) was taken by another server" }
}

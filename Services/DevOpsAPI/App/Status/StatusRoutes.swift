import AsyncHTTPClient
import Foundation
import Hummingbird
import PostgresNIO
import ServiceKit
import Synchronization

/// `GET /api/devops/status` (admin): what the seed's admin page shows.
final class StatusRoutes: Sendable {
    let postgres: PostgresClient
    let client: InternalClient
    let settings: DevOpsSettings
    let usage: UsageRecorder
    /// The previous reading of the gateway's counters, for request rates.
    let lastReading = Mutex<(at: Date, requests: [String: Int])?>(nil)

    init(postgres: PostgresClient, client: InternalClient, settings: DevOpsSettings, usage: UsageRecorder) {
        self.postgres = postgres
        self.client = client
        self.settings = settings
        self.usage = usage
    }

    struct Status: ResponseCodable {
        struct Connection: Codable {
            var activeKeys: Int
            var keys: [KeyRoutes.KeySummary]
            var endpoints: [EndpointUse]
            var lastWebhookAt: Date?
        }
        struct EndpointUse: Codable {
            var endpoint: String
            var requestCount: Int64
            var lastUsedAt: Date
        }
        struct Deployment: Codable {
            var environment: String?
            var version: String?
            var status: String?
            var occurredAt: Date
        }
        struct Alert: Codable {
            var id: Int64
            /// As the module sent it, and on the one scale (`info` … `critical`) the page sorts by.
            var severity: String?
            var level: String?
            var message: String?
            var occurredAt: Date
        }
        var connection: Connection
        var recentDeployments: [Deployment]
        var openAlerts: [Alert]
        var services: [ServiceTraffic]
        var metricsAvailable: Bool
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/devops/status") { [self] _, context -> Status in
            _ = try context.requireAdmin()
            return try await status(context: context)
        }
    }

    func status(context: ServiceRequestContext) async throws -> Status {
        await usage.flush()
        let keys = try await KeyRoutes.keys(postgres: postgres, logger: context.logger)
        var endpoints: [Status.EndpointUse] = []
        for try await (endpoint, count, at) in try await postgres.query(
            "SELECT endpoint, request_count, last_used_at FROM devops.endpoint_usage ORDER BY endpoint",
            logger: context.logger
        ).decode((String, Int64, Date).self) { endpoints.append(.init(endpoint: endpoint, requestCount: count, lastUsedAt: at)) }
        var lastWebhook: Date?
        for try await at in try await postgres.query("SELECT max(received_at) FROM devops.events", logger: context.logger).decode(Date?.self) {
            lastWebhook = at
        }
        var deployments: [Status.Deployment] = []
        for try await row in try await postgres.query(
            """
            SELECT environment, version, status, occurred_at FROM devops.events WHERE event_type = 'deployment'
            ORDER BY occurred_at DESC LIMIT 10
            """,
            logger: context.logger
        ).decode((String?, String?, String?, Date).self) {
            deployments.append(.init(environment: row.0, version: row.1, status: row.2, occurredAt: row.3))
        }
        var alerts: [Status.Alert] = []
        for try await row in try await postgres.query(
            """
            SELECT id, severity, severity_level, message, occurred_at FROM devops.events WHERE event_type = 'alert' AND resolved_at IS NULL
            ORDER BY severity_level DESC NULLS LAST, occurred_at DESC LIMIT 50
            """,
            logger: context.logger
        ).decode((Int64, String?, Int16?, String?, Date).self) {
            let level = row.2.flatMap { AlertSeverity(rawValue: Int($0)) }
            alerts.append(.init(id: row.0, severity: row.1, level: level?.name, message: row.3, occurredAt: row.4))
        }
        let traffic = await readTraffic(context: context)
        return Status(
            connection: .init(activeKeys: keys.filter { $0.status == "active" }.count, keys: keys, endpoints: endpoints, lastWebhookAt: lastWebhook),
            recentDeployments: deployments,
            openAlerts: alerts,
            services: traffic ?? [],
            metricsAvailable: traffic != nil
        )
    }

    /// The gateway's metrics, or nil when they cannot be read (the page still shows everything else).
    func readTraffic(context: ServiceRequestContext) async -> [ServiceTraffic]? {
        guard
            let reply = try? await client.send(
                .init(.GET, settings.gatewayMetricsURL + "/metrics", timeout: .seconds(2)),
                requestID: context.requestID
            ),
            reply.status == .ok
        else { return nil }
        let now = Date()
        let previous = lastReading.withLock { $0 }
        let traffic = GatewayMetrics.traffic(
            GatewayMetrics.parse(String(buffer: reply.body)),
            previous: previous?.requests ?? [:],
            elapsed: previous.map { now.timeIntervalSince($0.at) }
        )
        lastReading.withLock { $0 = (now, Dictionary(uniqueKeysWithValues: traffic.map { ($0.service, $0.requests) })) }
        return traffic
    }
}

import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

/// `/api/ops/overview`, `/api/ops/incidents` and `/api/ops/integrations/{id}/metrics` (admins): what the monitors
/// found, from what the last checks stored (the providers are never called from here).
struct OverviewRoutes {
    let postgres: PostgresClient

    struct Incident: Codable, Equatable, Sendable {
        var id: UUID
        var integrationId: UUID
        var integrationName: String
        var kind: String
        var reason: String
        var message: String
        var openedAt: Date
        var resolvedAt: Date?

        enum CodingKeys: String, CodingKey {
            case id, kind, reason, message
            case integrationId = "integration_id"
            case integrationName = "integration_name"
            case openedAt = "opened_at"
            case resolvedAt = "resolved_at"
        }
    }

    struct Overview: ResponseCodable {
        var health: [String: Int]
        var integrations: [IntegrationView]
        var openIncidents: [Incident]
        /// Google Cloud spend against budget, as the latest notifications reported it.
        var budgets: [BudgetRoutes.BudgetView]

        enum CodingKeys: String, CodingKey {
            case health, integrations, budgets
            case openIncidents = "open_incidents"
        }
    }

    struct IncidentList: ResponseCodable { var incidents: [Incident] }

    struct Series: ResponseCodable {
        var metric: String
        var bucket: String
        var from: Date
        var to: Date
        var points: [MonitorSamples.Point]
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/ops/overview") { _, context -> Overview in
            _ = try context.requireAdmin()
            let integrations = try await IntegrationQueries.list(postgres: postgres, logger: context.logger)
            var health = Dictionary(uniqueKeysWithValues: ["healthy", "degraded", "unhealthy", "unknown"].map { ($0, 0) })
            for integration in integrations { health[integration.health, default: 0] += 1 }
            return Overview(
                health: health,
                integrations: integrations,
                openIncidents: try await incidents(open: true, logger: context.logger),
                budgets: try await BudgetRoutes.budgets(postgres: postgres, logger: context.logger)
            )
        }
        router.get("/api/ops/incidents") { request, context -> IncidentList in
            _ = try context.requireAdmin()
            let open: Bool?
            switch request.uri.queryParameters["open"].map(String.init) {
            case nil: open = nil
            case "true": open = true
            case "false": open = false
            default: throw APIError.invalidPayload([FieldProblem("open", "must be true or false")])
            }
            return IncidentList(incidents: try await incidents(open: open, logger: context.logger))
        }
        router.get("/api/ops/integrations/{id}/metrics") { request, context -> Series in
            _ = try context.requireAdmin()
            let integration = try await IntegrationQueries.find(try IntegrationRoutes.id(context), postgres: postgres, logger: context.logger)
            let query = try Self.seriesQuery(request.queryValues, kind: IntegrationKind(rawValue: integration.kind), now: Date())
            let points = try await MonitorSamples.points(
                integration: integration.id,
                metric: query.metric,
                from: query.from,
                to: query.to,
                daily: query.daily,
                postgres: postgres,
                logger: context.logger
            )
            return Series(metric: query.metric, bucket: query.daily ? "day" : "hour", from: query.from, to: query.to, points: points)
        }
    }

    struct SeriesQuery: Equatable {
        var metric: String
        var from: Date
        var to: Date
        var daily: Bool
    }

    /// `metric` (one the kind stores), `bucket` (`hour`, the default, up to 31 days; `day` up to 400), `from` and
    /// `to` (ISO-8601; by default the last day of hours or the last 30 days). Every problem named at once.
    static func seriesQuery(_ parameters: [String: String], kind: IntegrationKind?, now: Date) throws -> SeriesQuery {
        var problems: [FieldProblem] = []
        let metrics = kind?.metrics ?? []
        let metric = parameters["metric"] ?? ""
        if !metrics.contains(metric) { problems.append(FieldProblem("metric", "must be one of \(metrics.joined(separator: ", "))")) }
        let bucket = parameters["bucket"] ?? "hour"
        if bucket != "hour" && bucket != "day" { problems.append(FieldProblem("bucket", "must be hour or day")) }
        let daily = bucket == "day"
        func date(_ name: String) -> Date? {
            guard let text = parameters[name] else { return nil }
            guard let date = ProviderJSON.parseDate(text) else {
                problems.append(FieldProblem(name, "must be an ISO-8601 date and time such as 2026-12-01T00:00:00Z"))
                return nil
            }
            return date
        }
        let to = date("to") ?? now
        let from = date("from") ?? to.addingTimeInterval(daily ? -30 * 86_400 : -86_400)
        let longest: TimeInterval = daily ? 400 * 86_400 : 31 * 86_400
        if from >= to {
            problems.append(FieldProblem("from", "must be before to"))
        } else if to.timeIntervalSince(from) > longest {
            problems.append(FieldProblem("from", daily ? "must be at most 400 days before to" : "must be at most 31 days before to; use bucket=day"))
        }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        return SeriesQuery(metric: metric, from: from, to: to, daily: daily)
    }

    func incidents(open: Bool?, logger: Logger) async throws -> [Incident] {
        var incidents: [Incident] = []
        for try await (id, integrationID, name, kind, reason, message, openedAt, resolvedAt) in try await postgres.query(
            """
            SELECT n.id, n.integration_id, i.name, i.kind, n.reason, n.message, n.opened_at, n.resolved_at
            FROM devops.incidents n JOIN devops.integrations i ON i.id = n.integration_id
            WHERE \(open == nil) OR (n.resolved_at IS NULL) = \(open ?? true)
            ORDER BY n.opened_at DESC LIMIT 200
            """,
            logger: logger
        ).decode((UUID, UUID, String, String, String, String, Date, Date?).self) {
            incidents.append(
                Incident(
                    id: id,
                    integrationId: integrationID,
                    integrationName: name,
                    kind: kind,
                    reason: reason,
                    message: message,
                    openedAt: openedAt,
                    resolvedAt: resolvedAt
                )
            )
        }
        return incidents
    }
}

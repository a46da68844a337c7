import Foundation
import Hummingbird
import PostgresNIO
import RevenueMath
import ServiceKit

extension MetricSettings: ResponseEncodable {}

/// `GET` and `PATCH /api/stripe/connections/{id}/settings`: the owner's choices where METRICS.md names one. A change
/// queues a sync, whose rebuild recomputes the connection's whole history under the new settings.
struct SettingsRoutes {
    let postgres: PostgresClient

    struct Updated: ResponseCodable, Equatable {
        var settings: MetricSettings
        /// True when the settings changed and a rebuild was queued (or one was already on its way).
        var rebuildQueued: Bool
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/stripe/connections/{id}/settings") { _, context -> MetricSettings in
            let user = try context.requireUser()
            let id = try Self.connectionID(context)
            guard let settings = try await SettingsQueries.settings(of: id, userID: user.subject, postgres: postgres, logger: context.logger) else {
                throw APIError.notFound("no such connection")
            }
            return settings
        }
        router.patch("/api/stripe/connections/{id}/settings") { request, context -> Updated in
            let user = try context.requireUser()
            let body = try await request.body.collect(upTo: 16 * 1024)
            let changes: JSONValue
            do {
                changes = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))
            } catch {
                throw APIError.badRequest("invalid_json", "the body is not valid JSON")
            }
            let id = try Self.connectionID(context)
            guard let current = try await SettingsQueries.settings(of: id, userID: user.subject, postgres: postgres, logger: context.logger) else {
                throw APIError.notFound("no such connection")
            }
            let updated = try Self.apply(changes, to: current)
            guard updated != current else { return Updated(settings: current, rebuildQueued: false) }
            try await SettingsQueries.store(updated, for: id, postgres: postgres, logger: context.logger)
            return Updated(settings: updated, rebuildQueued: true)
        }
    }

    static func connectionID(_ context: ServiceRequestContext) throws -> UUID {
        guard let id = UUID(uuidString: try context.parameters.require("id")) else { throw APIError.notFound("no such connection") }
        return id
    }

    /// The settings with the body's changes, every wrong field named. `pastDueChurnDays: null` turns that rule off.
    /// No I/O.
    static func apply(_ changes: JSONValue, to settings: MetricSettings) throws -> MetricSettings {
        guard case .object(let fields) = changes else { throw APIError.invalidPayload([FieldProblem("body", "must be a JSON object")]) }
        var updated = settings
        var problems: [FieldProblem] = []
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "discounts":
                guard let policy = value.string.flatMap(MetricSettings.DiscountPolicy.init(rawValue:)) else {
                    problems.append(FieldProblem(key, "must be forever-only or all-active"))
                    continue
                }
                updated.discounts = policy
            case "cancellation":
                guard let policy = value.string.flatMap(MetricSettings.CancellationPolicy.init(rawValue:)) else {
                    problems.append(FieldProblem(key, "must be period-end or cancellation"))
                    continue
                }
                updated.cancellation = policy
            case "pastDueChurnDays":
                if value == .null {
                    updated.pastDueChurnDays = nil
                } else if case .number(let number) = value, let days = Int(exactly: NSDecimalNumber(decimal: number).doubleValue),
                    Decimal(days) == number, (1...365).contains(days)
                {
                    updated.pastDueChurnDays = days
                } else {
                    problems.append(FieldProblem(key, "must be a whole number of days from 1 to 365, or null to turn it off"))
                }
            default:
                problems.append(FieldProblem(key, "is not a setting (discounts, pastDueChurnDays, cancellation)"))
            }
        }
        guard problems.isEmpty else { throw APIError.invalidPayload(problems) }
        return updated
    }
}

import Foundation
import Hummingbird
import Logging
import PlanKit
import PostgresNIO
import ServiceKit

/// `POST /api/ops/gcp/budget`: Google Cloud budget notifications as a Pub/Sub push subscription delivers them (the
/// gateway checks `GCP_BUDGET_PUSH_TOKEN`). The latest notification of each budget is kept; a redelivery or an older
/// one changes nothing, and a newly crossed alert threshold becomes an alert.
struct BudgetRoutes {
    let postgres: PostgresClient

    /// The push envelope: `{message: {data: base64(JSON), attributes, messageId, publishTime}, subscription}`.
    struct Push: Decodable {
        struct Message: Decodable {
            var data: String
            var attributes: [String: String]?
            var messageId: String
            var publishTime: String
        }

        var message: Message
    }

    /// The notification itself (schema version 1.0).
    struct Notification: Decodable {
        var budgetDisplayName: String
        var costAmount: Decimal
        var costIntervalStart: String
        var budgetAmount: Decimal
        var currencyCode: String
        var alertThresholdExceeded: Decimal?
    }

    /// A notification, checked. No I/O.
    struct Budget: Equatable {
        var budgetID: String
        var billingAccountID: String
        var name: String
        var currency: String
        var costCents: Int64
        var budgetCents: Int64
        var thresholdExceeded: Decimal?
        var intervalStart: Date
        var messageID: String
        var publishedAt: Date

        init(_ push: Push) throws {
            var problems: [FieldProblem] = []
            let attributes = push.message.attributes ?? [:]
            let notification = Data(base64Encoded: push.message.data).flatMap { try? JSONDecoder().decode(Notification.self, from: $0) }
            if notification == nil {
                problems.append(FieldProblem("message.data", "must be the base64 of a budget notification (budgetDisplayName, costAmount, …)"))
            }
            let budgetID = attributes["budgetId"] ?? ""
            if budgetID.isEmpty || budgetID.count > 200 { problems.append(FieldProblem("message.attributes.budgetId", "is required")) }
            let published = ProviderJSON.parseDate(push.message.publishTime)
            if published == nil { problems.append(FieldProblem("message.publishTime", "must be an RFC 3339 time")) }
            let intervalStart = notification.flatMap { ProviderJSON.parseDate($0.costIntervalStart) }
            if notification != nil, intervalStart == nil {
                problems.append(FieldProblem("message.data.costIntervalStart", "must be an RFC 3339 time"))
            }
            let currency = notification?.currencyCode.lowercased() ?? ""
            if notification != nil, currency.range(of: "^[a-z]{3}$", options: .regularExpression) == nil {
                problems.append(FieldProblem("message.data.currencyCode", "must be an ISO 4217 code"))
            }
            guard problems.isEmpty, let notification, let published, let intervalStart else { throw APIError.invalidPayload(problems) }
            func cents(_ amount: Decimal) -> Int64 { MonthlyRecurring.rounded(amount * 100) }
            self.budgetID = budgetID
            billingAccountID = attributes["billingAccountId"] ?? ""
            name = String(notification.budgetDisplayName.prefix(200))
            self.currency = currency
            costCents = cents(notification.costAmount)
            budgetCents = cents(notification.budgetAmount)
            thresholdExceeded = notification.alertThresholdExceeded
            self.intervalStart = intervalStart
            messageID = push.message.messageId
            publishedAt = published
        }
    }

    struct BudgetView: Codable, Equatable, Sendable {
        var budgetId: String
        var name: String
        var currency: String
        var costCents: Int64
        var budgetCents: Int64
        var thresholdExceeded: Decimal?
        var costIntervalStart: Date
        var updatedAt: Date

        enum CodingKeys: String, CodingKey {
            case name, currency
            case budgetId = "budget_id"
            case costCents = "cost_cents"
            case budgetCents = "budget_cents"
            case thresholdExceeded = "threshold_exceeded"
            case costIntervalStart = "cost_interval_start"
            case updatedAt = "updated_at"
        }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/ops/gcp/budget") { request, context -> HTTPResponse.Status in
            _ = try context.requireService()
            let budget = try Budget(try await request.decode(as: Push.self, context: context))
            try await store(budget, logger: context.logger)
            // Any 2xx acknowledges the message to Pub/Sub.
            return .noContent
        }
    }

    /// Keeps the newest notification per budget, in one transaction with the alert a newly crossed threshold raises.
    func store(_ budget: Budget, logger: Logger) async throws {
        try await postgres.withTransaction(logger: logger) { connection in
            var previous: Decimal?
            var known = false
            for try await threshold in try await connection.query(
                """
                SELECT threshold_exceeded::text FROM devops.gcp_budgets
                WHERE budget_id = \(budget.budgetID) AND cost_interval_start = \(budget.intervalStart) FOR UPDATE
                """,
                logger: logger
            ).decode(String?.self) {
                known = true
                previous = threshold.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
            }
            var stored = false
            for try await _ in try await connection.query(
                """
                INSERT INTO devops.gcp_budgets (budget_id, billing_account_id, display_name, currency, cost_cents, budget_cents,
                    threshold_exceeded, cost_interval_start, message_id, published_at)
                VALUES (\(budget.budgetID), \(budget.billingAccountID), \(budget.name), \(budget.currency), \(budget.costCents),
                    \(budget.budgetCents), \(budget.thresholdExceeded.map { "\($0)" })::numeric, \(budget.intervalStart), \(budget.messageID),
                    \(budget.publishedAt))
                ON CONFLICT (budget_id) DO UPDATE SET billing_account_id = excluded.billing_account_id, display_name = excluded.display_name,
                    currency = excluded.currency, cost_cents = excluded.cost_cents, budget_cents = excluded.budget_cents,
                    threshold_exceeded = excluded.threshold_exceeded, cost_interval_start = excluded.cost_interval_start,
                    message_id = excluded.message_id, published_at = excluded.published_at, received_at = now()
                WHERE devops.gcp_budgets.published_at < excluded.published_at
                RETURNING budget_id
                """,
                logger: logger
            ) { stored = true }
            guard stored, let crossed = budget.thresholdExceeded, crossed > (known ? previous ?? 0 : 0) else { return }
            let severity: AlertSeverity = crossed >= 1 ? .high : .medium
            let percent = NSDecimalNumber(decimal: (crossed * 100).rounded(places: 0)).intValue
            let message =
                "Google Cloud budget \(budget.name) passed \(percent)% (\(budget.costCents) of \(budget.budgetCents) \(budget.currency) cents)"
            let payload = IntegrationQueries.json(["source": "monitor", "kind": "gcp", "budget_id": .string(budget.budgetID)])
            for try await id in try await connection.query(
                """
                INSERT INTO devops.events (event_type, severity, severity_level, message, payload, occurred_at)
                VALUES ('alert', \(severity.name), \(Int16(severity.rawValue)), \(message), \(payload)::jsonb, \(budget.publishedAt))
                RETURNING id
                """,
                logger: logger
            ).decode(Int64.self) {
                let alert = StreamAlert(
                    id: id,
                    source: "monitor:gcp",
                    severity: severity.name,
                    level: severity.name,
                    message: message,
                    occurredAt: budget.publishedAt
                )
                try await StreamEvents.publish("alert", to: nil, payload: alert, on: connection, logger: logger)
            }
        }
    }

    static func budgets(postgres: PostgresClient, logger: Logger) async throws -> [BudgetView] {
        var budgets: [BudgetView] = []
        for try await (id, name, currency, cost, limit, threshold, start, updated) in try await postgres.query(
            """
            SELECT budget_id, display_name, currency, cost_cents, budget_cents, threshold_exceeded::text, cost_interval_start, received_at
            FROM devops.gcp_budgets ORDER BY display_name LIMIT 100
            """,
            logger: logger
        ).decode((String, String, String, Int64, Int64, String?, Date, Date).self) {
            budgets.append(
                BudgetView(
                    budgetId: id,
                    name: name,
                    currency: currency,
                    costCents: cost,
                    budgetCents: limit,
                    thresholdExceeded: threshold.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) },
                    costIntervalStart: start,
                    updatedAt: updated
                )
            )
        }
        return budgets
    }
}

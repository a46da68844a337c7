import Contracts
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit

extension ConnectionSnapshots: ResponseCodable {}

/// `GET /api/metrics?connectionId=&days=` (the owner) and `GET /internal/connections/{id}/snapshots?days=` (services).
struct MetricsRoutes {
    let postgres: PostgresClient

    struct Metrics: ResponseCodable {
        struct Movements: Codable, Equatable {
            var new: Decimal = 0
            var expansion: Decimal = 0
            var contraction: Decimal = 0
            var churned: Decimal = 0
            var reactivation: Decimal = 0
        }
        var connectionId: UUID
        /// The connection's default currency; other currencies' numbers are in `trend` under their own code.
        var currency: String
        var latest: MetricsSnapshot?
        var trend: [MetricsSnapshot]
        var movements: Movements
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/metrics") { request, context -> Metrics in
            let user = try context.requireUser()
            let days = try Self.days(request)
            guard let id = request.uri.queryParameters.get("connectionId").flatMap(UUID.init(uuidString:)),
                let connection = try await Self.connection(id, postgres: postgres, logger: context.logger), connection.userID == user.subject
            else { throw APIError.notFound("no such connection") }
            let trend = try await Self.snapshots(id, days: days, postgres: postgres, logger: context.logger)
            let headline = trend.filter { $0.currency == connection.currency }
            var movements = Metrics.Movements()
            for snapshot in headline {
                movements.new += snapshot.newMrr
                movements.expansion += snapshot.expansionMrr
                movements.contraction += snapshot.contractionMrr
                movements.churned += snapshot.churnedMrr
                movements.reactivation += snapshot.reactivationMrr
            }
            return Metrics(connectionId: id, currency: connection.currency, latest: headline.last, trend: trend, movements: movements)
        }
        router.get("/internal/connections/{id}/snapshots") { request, context -> ConnectionSnapshots in
            _ = try context.requireService()
            guard let id = UUID(uuidString: try context.parameters.require("id")),
                let connection = try await Self.connection(id, postgres: postgres, logger: context.logger)
            else { throw APIError.notFound("no such connection") }
            let snapshots = try await Self.snapshots(id, days: try Self.days(request), postgres: postgres, logger: context.logger)
            return ConnectionSnapshots(connectionId: id, userId: connection.userID, currency: connection.currency, snapshots: snapshots)
        }
    }

    static func days(_ request: Request) throws -> Int {
        let days = request.uri.queryParameters.get("days", as: Int.self) ?? 90
        guard (1...365).contains(days) else { throw APIError.badRequest("invalid_days", "days must be 1 to 365") }
        return days
    }

    static func connection(_ id: UUID, postgres: PostgresClient, logger: Logger) async throws -> (userID: String, currency: String)? {
        for try await row in try await postgres.query(
            "SELECT user_id, coalesce(default_currency, 'usd') FROM sync.stripe_connections WHERE id = \(id) AND active",
            logger: logger
        ).decode((String, String).self) { return row }
        return nil
    }

    static func snapshots(_ id: UUID, days: Int, postgres: PostgresClient, logger: Logger) async throws -> [MetricsSnapshot] {
        var snapshots: [MetricsSnapshot] = []
        for try await row in try await postgres.query(
            """
            SELECT day::text, currency, mrr::text, arr::text, total_revenue, total_customers, active_subscriptions, arpu::text, ltv::text,
                customer_churn_rate::text, revenue_churn_rate::text, net_revenue_churn_rate::text, new_mrr::text, expansion_mrr::text,
                contraction_mrr::text, churned_mrr::text, reactivation_mrr::text, payment_success_rate::text, dispute_rate::text,
                subscription_growth_rate::text
            FROM sync.metrics_snapshots
            WHERE connection_id = \(id) AND day > (SELECT max(day) FROM sync.metrics_snapshots WHERE connection_id = \(id)) - \(days)::integer
            ORDER BY day, currency
            """,
            logger: logger
        ) {
            let columns = try row.decode(
                (
                    String, String, String, String, Int64, Int, Int, String?, String?, String?, String?, String?, String, String, String, String,
                    String, String?, String?, String?
                ).self
            )
            func decimal(_ text: String?) -> Decimal? { text.flatMap { Decimal(string: $0) } }
            snapshots.append(
                MetricsSnapshot(
                    day: columns.0,
                    currency: columns.1,
                    mrr: decimal(columns.2) ?? 0,
                    arr: decimal(columns.3) ?? 0,
                    totalRevenue: columns.4,
                    totalCustomers: columns.5,
                    activeSubscriptions: columns.6,
                    arpu: decimal(columns.7),
                    ltv: decimal(columns.8),
                    customerChurnRate: decimal(columns.9),
                    revenueChurnRate: decimal(columns.10),
                    netRevenueChurnRate: decimal(columns.11),
                    newMrr: decimal(columns.12) ?? 0,
                    expansionMrr: decimal(columns.13) ?? 0,
                    contractionMrr: decimal(columns.14) ?? 0,
                    churnedMrr: decimal(columns.15) ?? 0,
                    reactivationMrr: decimal(columns.16) ?? 0,
                    paymentSuccessRate: decimal(columns.17),
                    disputeRate: decimal(columns.18),
                    subscriptionGrowthRate: decimal(columns.19)
                )
            )
        }
        return snapshots
    }
}

import Contracts
import Foundation
import Hummingbird
import PlanKit
import PostgresNIO
import ServiceKit

/// `PATCH /api/admin/partners/{userId}` (admin) sets a partner level; `GET /internal/commissions` and
/// `GET /internal/users` (services) feed the DevOps module's sync endpoints.
struct PartnerRoutes {
    let postgres: PostgresClient

    struct LevelRequest: Decodable { var level: String }
    struct LevelResult: ResponseCodable, Equatable {
        var userId: String
        var partnerLevel: String
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.patch("/api/admin/partners/{userId}") { request, context -> LevelResult in
            _ = try context.requireAdmin()
            let userID = try context.parameters.require("userId")
            let body = try await request.decode(as: LevelRequest.self, context: context)
            guard let level = PartnerLevel(rawValue: body.level) else {
                throw APIError.badRequest("invalid_level", "level must be one of \(PartnerLevel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var updated = false
            for try await _ in try await postgres.query(
                "UPDATE billing.user_profiles SET partner_level = \(level.rawValue), updated_at = now() WHERE user_id = \(userID) RETURNING user_id",
                logger: context.logger
            ) { updated = true }
            guard updated else { throw APIError.notFound("no such user") }
            return LevelResult(userId: userID, partnerLevel: level.rawValue)
        }
        router.get("/internal/commissions") { request, context -> CommissionReport in
            _ = try context.requireService()
            let currency = request.uri.queryParameters.get("currency") ?? "usd"
            return try await Self.commissions(currency: currency, postgres: postgres, logger: context.logger)
        }
        router.get("/internal/users") { request, context -> UserPage in
            _ = try context.requireService()
            let page = max(request.uri.queryParameters.get("page", as: Int.self) ?? 1, 1)
            let perPage = min(max(request.uri.queryParameters.get("per_page", as: Int.self) ?? 100, 1), 500)
            return try await Self.users(page: page, perPage: perPage, postgres: postgres, logger: context.logger)
        }
    }

    static func commissions(currency: String, postgres: PostgresClient, logger: Logger) async throws -> CommissionReport {
        var report = CommissionReport(
            currency: currency,
            totalCommissions: 0,
            totalTransactions: 0,
            topPerformers: [],
            commissionByLevel: [],
            recentCommissions: []
        )
        for try await (total, count) in try await postgres.query(
            "SELECT COALESCE(sum(commission_cents), 0)::bigint, count(*)::int FROM billing.commissions WHERE currency = \(currency)",
            logger: logger
        ).decode((Int64, Int).self) {
            report.totalCommissions = total
            report.totalTransactions = count
        }
        for try await (id, name, total, count) in try await postgres.query(
            """
            SELECT c.referrer_id, \(unescaped: Self.username("p")), sum(c.commission_cents)::bigint, count(*)::int
            FROM billing.commissions c JOIN billing.user_profiles p ON p.user_id = c.referrer_id
            WHERE c.currency = \(currency) GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10
            """,
            logger: logger
        ).decode((String, String, Int64, Int).self) {
            report.topPerformers.append(.init(userId: id, username: name, totalCommission: total, transactionCount: count))
        }
        for try await (level, total, count) in try await postgres.query(
            """
            SELECT partner_level, sum(commission_cents)::bigint, count(*)::int FROM billing.commissions
            WHERE currency = \(currency) GROUP BY 1 ORDER BY 1
            """,
            logger: logger
        ).decode((String, Int64, Int).self) {
            report.commissionByLevel.append(.init(level: level, totalCommission: total, transactionCount: count))
        }
        for try await row in try await postgres.query(
            """
            SELECT invoice_id, referrer_id, referred_user_id, payment_cents, rate_percent, commission_cents, currency, created_at
            FROM billing.commissions WHERE currency = \(currency) ORDER BY created_at DESC LIMIT 20
            """,
            logger: logger
        ).decode((String, String, String, Int64, Int, Int64, String, Date).self) {
            report.recentCommissions.append(
                .init(
                    invoiceId: row.0,
                    referrerId: row.1,
                    referredUserId: row.2,
                    paymentCents: row.3,
                    ratePercent: row.4,
                    commissionCents: row.5,
                    currency: row.6,
                    createdAt: row.7
                )
            )
        }
        return report
    }

    /// A profile's username in SQL: its email's local part, else its id (profiles keep no display name).
    static func username(_ profile: String) -> String {
        "COALESCE(NULLIF(split_part(\(profile).email, '@', 1), ''), \(profile).user_id)"
    }

    static func users(page: Int, perPage: Int, postgres: PostgresClient, logger: Logger) async throws -> UserPage {
        var result = UserPage(total: 0, page: page, perPage: perPage, users: [])
        for try await total in try await postgres.query("SELECT count(*)::int FROM billing.user_profiles", logger: logger).decode(Int.self) {
            result.total = total
        }
        for try await row in try await postgres.query(
            """
            SELECT user_id, email, \(unescaped: Self.username("p")), role, partner_level, subscription_tier, subscription_status,
                COALESCE(last_seen_at > now() - interval '30 days', false), created_at, last_seen_at
            FROM billing.user_profiles p ORDER BY created_at, user_id LIMIT \(perPage) OFFSET \((page - 1) * perPage)
            """,
            logger: logger
        ).decode((String, String?, String, String, String, String, String, Bool, Date, Date?).self) {
            result.users.append(
                .init(
                    id: row.0,
                    email: row.1,
                    username: row.2,
                    role: row.3,
                    partnerLevel: row.4,
                    tier: row.5,
                    subscriptionStatus: row.6,
                    active: row.7,
                    createdAt: row.8,
                    lastSeenAt: row.9
                )
            )
        }
        return result
    }
}

extension CommissionReport: ResponseCodable {}
extension UserPage: ResponseCodable {}

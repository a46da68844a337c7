import Foundation
import Hummingbird
import ServiceKit

/// The DevOps module's data-sync endpoints (the seed's response shapes), fed by billing-webhooks over internal HTTP.
/// Amounts are integer cents in `currency`.
struct SyncRoutes {
    let client: InternalClient
    let settings: DevOpsSettings
    let usage: UsageRecorder

    // What billing-webhooks answers (its internal API).
    struct BillingStats: Decodable {
        struct TierRevenue: Decodable {
            var tier: String
            var currency: String
            var activeSubscriptions: Int
            var mrrCents: Int64
        }
        struct Payment: Decodable {
            struct Amount: Decodable {
                var amountCents: Int64
                var currency: String
                enum CodingKeys: String, CodingKey {
                    case currency
                    case amountCents = "amount_cents"
                }
            }
            var invoiceID: String
            var userID: String?
            var amount: Amount
            var paidAt: Date
        }
        var totalUsers: Int
        var usersByTier: [String: Int]
        var usersByStatus: [String: Int]
        var usersByRole: [String: Int]
        var activeUsers: Int
        var inactiveUsers: Int
        var recentSignups: Int
        var totalRevenueCents: [String: Int64]
        var subscriptionRevenueCents: [String: Int64]
        var revenueByTier: [TierRevenue]
        var recentPayments: [Payment]
    }

    struct UsersSync: ResponseEncodable {
        var timestamp: Date
        var totalUsers: Int
        var usersByRole: [String: Int]
        var usersByStatus: [String: Int]
        var usersByTier: [String: Int]
        var recentSignups: Int
        var users: [JSONValue]
        var pagination: [String: Int]

        enum CodingKeys: String, CodingKey {
            case timestamp, users, pagination
            case totalUsers = "total_users"
            case usersByRole = "users_by_role"
            case usersByStatus = "users_by_status"
            case usersByTier = "users_by_tier"
            case recentSignups = "recent_signups"
        }
    }

    struct RevenueSync: ResponseEncodable {
        struct TierBreakdown: Encodable {
            var tier: String
            var count: Int
            var revenue: Int64
        }
        struct Transaction: Encodable {
            var invoiceId: String
            var userId: String?
            var amount: Int64
            var currency: String
            var paidAt: Date
            enum CodingKeys: String, CodingKey {
                case amount, currency
                case invoiceId = "invoice_id"
                case userId = "user_id"
                case paidAt = "paid_at"
            }
        }
        var timestamp: Date
        var currency: String
        var totalRevenue: Int64
        var subscriptionRevenue: Int64
        var monthlyRecurringRevenue: Int64
        var activeSubscriptions: Int
        var subscriptionBreakdown: [TierBreakdown]
        var recentTransactions: [Transaction]

        enum CodingKeys: String, CodingKey {
            case timestamp, currency
            case totalRevenue = "total_revenue"
            case subscriptionRevenue = "subscription_revenue"
            case monthlyRecurringRevenue = "monthly_recurring_revenue"
            case activeSubscriptions = "active_subscriptions"
            case subscriptionBreakdown = "subscription_breakdown"
            case recentTransactions = "recent_transactions"
        }
    }

    struct CommissionsSync: ResponseEncodable {
        var timestamp: Date
        var currency: String
        var totalCommissions: Int64
        var totalTransactions: Int
        var topPerformers: [JSONValue]
        var commissionByTier: [JSONValue]
        var recentCommissions: [JSONValue]

        enum CodingKeys: String, CodingKey {
            case timestamp, currency
            case totalCommissions = "total_commissions"
            case totalTransactions = "total_transactions"
            case topPerformers = "top_performers"
            case commissionByTier = "commission_by_tier"
            case recentCommissions = "recent_commissions"
        }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/devops/sync/users") { request, context -> UsersSync in
            try authorize(context, scope: .syncUsers, endpoint: "sync/users")
            let page = max(request.uri.queryParameters.get("page", as: Int.self) ?? 1, 1)
            let perPage = min(max(request.uri.queryParameters.get("per_page", as: Int.self) ?? 100, 1), 500)
            async let stats = billing("/internal/stats", as: BillingStats.self, context: context)
            async let users = billing("/internal/users?page=\(page)&per_page=\(perPage)", as: JSONValue.self, context: context)
            let (summary, list) = try await (stats, users)
            return UsersSync(
                timestamp: Date(),
                totalUsers: summary.totalUsers,
                usersByRole: summary.usersByRole,
                usersByStatus: ["active": summary.activeUsers, "inactive": summary.inactiveUsers],
                usersByTier: summary.usersByTier,
                recentSignups: summary.recentSignups,
                users: Self.items(list["users"]).map(Self.snakeCased),
                pagination: ["page": page, "per_page": perPage, "total": summary.totalUsers]
            )
        }
        router.get("/api/devops/sync/revenue") { _, context -> RevenueSync in
            try authorize(context, scope: .syncRevenue, endpoint: "sync/revenue")
            let stats = try await billing("/internal/stats", as: BillingStats.self, context: context)
            let currency = settings.reportingCurrency
            let tiers = stats.revenueByTier.filter { $0.currency == currency }
            return RevenueSync(
                timestamp: Date(),
                currency: currency,
                totalRevenue: stats.totalRevenueCents[currency] ?? 0,
                subscriptionRevenue: stats.subscriptionRevenueCents[currency] ?? 0,
                monthlyRecurringRevenue: tiers.reduce(0) { $0 + $1.mrrCents },
                activeSubscriptions: tiers.reduce(0) { $0 + $1.activeSubscriptions },
                subscriptionBreakdown: tiers.map { .init(tier: $0.tier, count: $0.activeSubscriptions, revenue: $0.mrrCents) },
                recentTransactions: stats.recentPayments.filter { $0.amount.currency == currency }.map {
                    .init(invoiceId: $0.invoiceID, userId: $0.userID, amount: $0.amount.amountCents, currency: $0.amount.currency, paidAt: $0.paidAt)
                }
            )
        }
        router.get("/api/devops/sync/commissions") { _, context -> CommissionsSync in
            try authorize(context, scope: .syncCommissions, endpoint: "sync/commissions")
            let report = try await billing("/internal/commissions?currency=\(settings.reportingCurrency)", as: JSONValue.self, context: context)
            func number(_ key: String) -> Int64 {
                if case .number(let value)? = report[key] { return NSDecimalNumber(decimal: value).int64Value }
                return 0
            }
            return CommissionsSync(
                timestamp: Date(),
                currency: settings.reportingCurrency,
                totalCommissions: number("totalCommissions"),
                totalTransactions: Int(number("totalTransactions")),
                topPerformers: Self.items(report["topPerformers"]).map(Self.snakeCased),
                commissionByTier: Self.items(report["commissionByTier"]).map(Self.snakeCased),
                recentCommissions: Self.items(report["recentCommissions"]).map(Self.snakeCased)
            )
        }
    }

    /// The gateway checked the key and its scope; the service checks again, and counts the use.
    func authorize(_ context: ServiceRequestContext, scope: KeyPermission, endpoint: String) throws {
        let identity = try context.requireIdentity()
        guard identity.role == .apiKey, identity.scopes.contains(scope.rawValue) else {
            throw APIError.forbidden("insufficient_scope", "this endpoint needs an API key with \(scope.rawValue)")
        }
        usage.record(keyID: identity.apiKeyID.flatMap(UUID.init(uuidString:)), endpoint: endpoint)
    }

    func billing<Value: Decodable>(_ path: String, as type: Value.Type, context: ServiceRequestContext) async throws -> Value {
        let reply: InternalClient.Reply
        do {
            reply = try await client.send(.init(.GET, settings.billingURL + path), requestID: context.requestID, logger: context.logger)
        } catch {
            throw APIError(.serviceUnavailable, "billing_unavailable", "billing-webhooks cannot be reached")
        }
        guard reply.status == .ok else { throw APIError(.badGateway, "billing_error", "billing-webhooks answered \(reply.status.code)") }
        return try reply.decode(type)
    }

    static func items(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { return items }
        return []
    }

    /// billing's camelCase keys as the seed's snake_case (`totalCommission` → `total_commission`).
    static func snakeCased(_ value: JSONValue) -> JSONValue {
        guard case .object(let object) = value else { return value }
        return .object(
            Dictionary(uniqueKeysWithValues: object.map { key, value in
                (key.reduce(into: "") { result, character in
                    if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
                }, value)
            })
        )
    }
}

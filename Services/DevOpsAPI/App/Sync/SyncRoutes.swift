import Contracts
import Foundation
import Hummingbird
import ServiceKit

/// The DevOps module's data-sync endpoints (the seed's response shapes), fed by billing-webhooks over internal HTTP.
/// Amounts are integer cents in `currency`.
struct SyncRoutes {
    let client: InternalClient
    let settings: DevOpsSettings
    let usage: UsageRecorder

    struct UsersSync: ResponseEncodable {
        var timestamp: Date
        var totalUsers: Int
        var usersByRole: [String: Int]
        var usersByStatus: [String: Int]
        var usersByTier: [String: Int]
        var recentSignups: Int
        var users: [SyncedUser]
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
        var topPerformers: [Performer]
        var commissionByTier: [TierCommission]
        var recentCommissions: [Commission]

        struct Performer: Encodable {
            var username: String
            var totalCommission: Int64
            var transactionCount: Int
            enum CodingKeys: String, CodingKey {
                case username
                case totalCommission = "total_commission"
                case transactionCount = "transaction_count"
            }
        }
        struct TierCommission: Encodable {
            var tier: String
            var totalCommission: Int64
            var transactionCount: Int
            enum CodingKeys: String, CodingKey {
                case tier
                case totalCommission = "total_commission"
                case transactionCount = "transaction_count"
            }
        }
        struct Commission: Encodable {
            var invoiceId: String
            var referrerId: String
            var referredUserId: String
            var amount: Int64
            var ratePercent: Int
            var commission: Int64
            var createdAt: Date
            enum CodingKeys: String, CodingKey {
                case amount, commission
                case invoiceId = "invoice_id"
                case referrerId = "referrer_id"
                case referredUserId = "referred_user_id"
                case ratePercent = "rate_percent"
                case createdAt = "created_at"
            }
        }

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
            async let stats = billing("/internal/stats", as: PlatformStats.self, context: context)
            async let users = billing("/internal/users?page=\(page)&per_page=\(perPage)", as: UserPage.self, context: context)
            let (summary, list) = try await (stats, users)
            return UsersSync(
                timestamp: Date(),
                totalUsers: summary.totalUsers,
                usersByRole: summary.usersByRole,
                usersByStatus: ["active": summary.activeUsers, "inactive": summary.inactiveUsers],
                usersByTier: summary.usersByTier,
                recentSignups: summary.recentSignups,
                users: list.users.map(SyncedUser.init),
                pagination: ["page": page, "per_page": perPage, "total": summary.totalUsers]
            )
        }
        router.get("/api/devops/sync/revenue") { _, context -> RevenueSync in
            try authorize(context, scope: .syncRevenue, endpoint: "sync/revenue")
            let stats = try await billing("/internal/stats", as: PlatformStats.self, context: context)
            let currency = settings.reportingCurrency
            let tiers = stats.revenueByTier.filter { $0.currency == currency }
            return RevenueSync(
                timestamp: Date(),
                currency: currency,
                totalRevenue: stats.totalRevenueCents[currency] ?? 0,
                subscriptionRevenue: stats.subscriptionRevenueCents[currency] ?? 0,
                monthlyRecurringRevenue: tiers.reduce(0) { $0 + $1.mrrCents },
                activeSubscriptions: tiers.reduce(0) { $0 + $1.activeSubscriptions },
                subscriptionBreakdown: tiers.map { .init(tier: $0.tier.rawValue, count: $0.activeSubscriptions, revenue: $0.mrrCents) },
                recentTransactions: stats.recentPayments.filter { $0.amount.currency == currency }.map {
                    .init(invoiceId: $0.invoiceID, userId: $0.userID, amount: $0.amount.amountCents, currency: $0.amount.currency, paidAt: $0.paidAt)
                }
            )
        }
        router.get("/api/devops/sync/commissions") { _, context -> CommissionsSync in
            try authorize(context, scope: .syncCommissions, endpoint: "sync/commissions")
            let report = try await billing("/internal/commissions?currency=\(settings.reportingCurrency)", as: CommissionReport.self, context: context)
            return CommissionsSync(
                timestamp: Date(),
                currency: report.currency,
                totalCommissions: report.totalCommissions,
                totalTransactions: report.totalTransactions,
                topPerformers: report.topPerformers.map {
                    .init(username: $0.username, totalCommission: $0.totalCommission, transactionCount: $0.transactionCount)
                },
                commissionByTier: report.commissionByTier.map {
                    .init(tier: $0.tier, totalCommission: $0.totalCommission, transactionCount: $0.transactionCount)
                },
                recentCommissions: report.recentCommissions.map {
                    .init(
                        invoiceId: $0.invoiceId,
                        referrerId: $0.referrerId,
                        referredUserId: $0.referredUserId,
                        amount: $0.paymentCents,
                        ratePercent: $0.ratePercent,
                        commission: $0.commissionCents,
                        createdAt: $0.createdAt
                    )
                }
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
}

/// A user as the DevOps module receives it.
struct SyncedUser: Encodable {
    var id: String
    var email: String?
    var role: String
    var tier: String
    var status: String
    var subscriptionStatus: String
    var createdAt: Date
    var lastSeenAt: Date?

    init(_ user: UserPage.User) {
        id = user.id
        email = user.email
        role = user.role
        tier = user.tier
        status = user.active ? "active" : "inactive"
        subscriptionStatus = user.subscriptionStatus
        createdAt = user.createdAt
        lastSeenAt = user.lastSeenAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, role, tier, status
        case subscriptionStatus = "subscription_status"
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
    }
}

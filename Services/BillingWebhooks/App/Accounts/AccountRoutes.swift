import Contracts
import Foundation
import Hummingbird
import PlanKit
import PostgresNIO
import ServiceKit

/// `GET /api/me` for users; `GET /internal/accounts/{userId}` and `GET /internal/stats` for other services.
struct AccountRoutes {
    let postgres: PostgresClient

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/me") { _, context -> Profile in
            let user = try context.requireUser()
            return try await postgres.withConnection { connection in
                try await AccountQueries.profile(for: user.subject, email: user.email, role: user.profileRole, on: connection, logger: context.logger)
            }
        }
        router.get("/internal/accounts/{userId}") { _, context -> AccountSummary in
            _ = try context.requireService()
            let userID = try context.parameters.require("userId")
            let profile = try await postgres.withConnection { connection in
                try await AccountQueries.existingProfile(userID, on: connection, logger: context.logger)
            }
            return AccountSummary(userID: userID, profile: profile)
        }
        router.get("/internal/stats") { request, context -> PlatformStats in
            _ = try context.requireService()
            let recentDays = request.uri.queryParameters.get("recentDays", as: Int.self) ?? 7
            guard (1...365).contains(recentDays) else { throw APIError.badRequest("invalid_recent_days", "recentDays must be 1 to 365") }
            return try await StatsQueries.platformStats(recentDays: recentDays, postgres: postgres, logger: context.logger)
        }
    }
}

extension AccountSummary: ResponseCodable {
    /// A user with no profile yet is on starter.
    init(userID: String, profile: Profile?) {
        self.init(
            userID: userID,
            exists: profile != nil,
            tier: profile?.subscriptionTier ?? .starter,
            status: profile?.subscriptionStatus ?? "inactive",
            limits: profile?.limits ?? Tier.starter.limits,
            currentPeriodEnd: profile?.subscriptionCurrentPeriodEnd,
            stripeCustomerID: profile?.stripeCustomerID
        )
    }
}

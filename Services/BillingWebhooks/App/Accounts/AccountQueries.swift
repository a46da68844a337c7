import Foundation
import Logging
import PlanKit
import PostgresNIO

/// The SQL behind accounts: profiles by user, customer or email.
struct AccountQueries {
    static let profileColumns = """
        user_id, email, subscription_tier, subscription_status, stripe_customer_id, stripe_subscription_id,
        subscription_current_period_end, monthly_scenario_limit, monthly_ai_insights_limit, monthly_transaction_volume_limit,
        created_at, updated_at, referral_code, partner_level
        """

    /// The profile, created on first use with the starter tier's limits.
    /// `role` is what the identity says now; the last sign-in is written at most hourly.
    static func profile(for userID: String, email: String?, role: String, on connection: PostgresConnection, logger: Logger) async throws -> Profile {
        if let profile = try await existingProfile(userID, on: connection, logger: logger) {
            try await connection.query(
                """
                UPDATE billing.user_profiles SET role = \(role), last_seen_at = now()
                WHERE user_id = \(userID) AND (role <> \(role) OR last_seen_at IS NULL OR last_seen_at < now() - interval '1 hour')
                """,
                logger: logger
            )
            return profile
        }
        let starter = Tier.starter.limits
        try await connection.query(
            """
            INSERT INTO billing.user_profiles (
                user_id, email, monthly_scenario_limit, monthly_ai_insights_limit, monthly_transaction_volume_limit, role, last_seen_at, referral_code
            ) VALUES (
                \(userID), \(email), \(starter.scenarios), \(starter.aiInsights), \(starter.transactionVolume), \(role), now(), \(ReferralCode.generate())
            )
            ON CONFLICT (user_id) DO NOTHING
            """,
            logger: logger
        )
        guard let profile = try await existingProfile(userID, on: connection, logger: logger) else { throw PostgresRowMissing() }
        return profile
    }

    static func existingProfile(_ userID: String, on connection: PostgresConnection, logger: Logger, lock: Bool = false) async throws -> Profile? {
        let rows = try await connection.query(
            "SELECT \(unescaped: profileColumns) FROM billing.user_profiles WHERE user_id = \(userID) \(unescaped: lock ? "FOR UPDATE" : "")",
            logger: logger
        )
        return try await decodeProfiles(rows).first
    }

    static func profile(customerID: String, on connection: PostgresConnection, logger: Logger) async throws -> Profile? {
        let rows = try await connection.query(
            "SELECT \(unescaped: profileColumns) FROM billing.user_profiles WHERE stripe_customer_id = \(customerID) FOR UPDATE",
            logger: logger
        )
        return try await decodeProfiles(rows).first
    }

    /// Only an unambiguous email match counts: two profiles with one email match neither.
    static func profile(email: String, on connection: PostgresConnection, logger: Logger) async throws -> Profile? {
        let rows = try await connection.query(
            "SELECT \(unescaped: profileColumns) FROM billing.user_profiles WHERE lower(email) = lower(\(email)) LIMIT 2 FOR UPDATE",
            logger: logger
        )
        let profiles = try await decodeProfiles(rows)
        return profiles.count == 1 ? profiles[0] : nil
    }

    /// Stores the Stripe customer unless the profile already has one; returns the one that is stored.
    static func attachCustomer(_ customerID: String, to userID: String, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let rows = try await connection.query(
            """
            UPDATE billing.user_profiles SET stripe_customer_id = COALESCE(stripe_customer_id, \(customerID)), updated_at = now()
            WHERE user_id = \(userID) RETURNING stripe_customer_id
            """,
            logger: logger
        )
        for try await stored in rows.decode(String.self) { return stored }
        throw PostgresRowMissing()
    }

    static func decodeProfiles(_ rows: PostgresRowSequence) async throws -> [Profile] {
        var profiles: [Profile] = []
        for try await row in rows.decode(
            (String, String?, String, String, String?, String?, Date?, Int?, Int?, Int?, Date, Date, String?, String).self
        ) {
            profiles.append(
                Profile(
                    id: row.0,
                    email: row.1,
                    subscriptionTier: Tier(rawValue: row.2) ?? .starter,
                    subscriptionStatus: row.3,
                    stripeCustomerID: row.4,
                    stripeSubscriptionID: row.5,
                    subscriptionCurrentPeriodEnd: row.6,
                    limits: TierLimits(scenarios: row.7, aiInsights: row.8, transactionVolume: row.9),
                    createdAt: row.10,
                    updatedAt: row.11,
                    referralCode: row.12,
                    partnerLevel: row.13
                )
            )
        }
        return profiles
    }
}

/// A statement that must return a row returned none.
struct PostgresRowMissing: Error {}

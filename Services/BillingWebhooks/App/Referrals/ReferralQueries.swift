import Foundation
import Logging
import PlanKit
import PostgresNIO

/// The referral ledger: who referred whom, and the commission each referred payment earned.
enum ReferralQueries {
    /// The referrer a code names; nil for an unknown code.
    static func referrer(code: String, on connection: PostgresConnection, logger: Logger) async throws -> String? {
        for try await id in try await connection.query("SELECT user_id FROM billing.user_profiles WHERE referral_code = \(code)", logger: logger)
            .decode(String.self)
        { return id }
        return nil
    }

    /// A user is referred once, never by themselves.
    static func setReferrer(_ referrerID: String, of userID: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE billing.user_profiles SET referred_by = \(referrerID), updated_at = now()
            WHERE user_id = \(userID) AND referred_by IS NULL AND user_id <> \(referrerID)
            """,
            logger: logger
        )
    }

    /// Records the commission a referred user's paid invoice earns its referrer (once per invoice).
    static func recordCommission(
        invoiceID: String,
        payer: Profile,
        payment: Money,
        rates: CommissionRates,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        var referrer: (id: String, level: String)?
        for try await row in try await connection.query(
            """
            SELECT r.user_id, r.partner_level FROM billing.user_profiles p JOIN billing.user_profiles r ON r.user_id = p.referred_by
            WHERE p.user_id = \(payer.id)
            """,
            logger: logger
        ).decode((String, String).self) { referrer = row }
        guard let referrer, payment.amountCents > 0 else { return }
        let level = PartnerLevel(rawValue: referrer.level) ?? .member
        let commission = rates.commission(on: payment, level: level)
        try await connection.query(
            """
            INSERT INTO billing.commissions (
                invoice_id, referrer_id, referred_user_id, referred_tier, partner_level, rate_percent, payment_cents, commission_cents, currency
            ) VALUES (
                \(invoiceID), \(referrer.id), \(payer.id), \(payer.subscriptionTier.rawValue), \(level.rawValue), \(rates.percent[level] ?? 0),
                \(payment.amountCents), \(commission.amountCents), \(payment.currency)
            )
            ON CONFLICT (invoice_id) DO NOTHING
            """,
            logger: logger
        )
    }
}

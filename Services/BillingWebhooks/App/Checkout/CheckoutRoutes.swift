import Foundation
import Hummingbird
import PlanKit
import PostgresNIO
import ServiceKit
import StripeKit

/// `GET /api/pricing` and `POST /api/create-checkout`.
struct CheckoutRoutes {
    let postgres: PostgresClient
    let stripe: StripeClient
    let settings: BillingSettings

    struct PricingTier: Codable, Equatable {
        var tier: Tier
        var name: String
        var price: Money
        var limits: TierLimits
        /// False for starter (free) and for a tier whose Stripe price is not configured.
        var checkoutAvailable: Bool
    }

    struct Pricing: ResponseCodable, Equatable {
        var tiers: [PricingTier]
    }

    struct CheckoutRequest: Decodable {
        var plan: String
        /// Another user's referral code, from their `GET /api/me`.
        var referralCode: String?
    }

    struct CheckoutResponse: ResponseCodable, Equatable {
        var url: String
        var sessionId: String
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/pricing") { _, _ in
            Pricing(
                tiers: Tier.allCases.map { tier in
                    PricingTier(
                        tier: tier,
                        name: tier.displayName,
                        price: tier.monthlyPrice,
                        limits: tier.limits,
                        checkoutAvailable: settings.catalog.purchasableTiers.contains(tier)
                    )
                }
            )
        }
        router.post("/api/create-checkout") { request, context -> CheckoutResponse in
            let user = try context.requireUser()
            let body = try await request.decode(as: CheckoutRequest.self, context: context)
            let tier = try Self.purchasableTier(named: body.plan, catalog: settings.catalog)
            let priceID = settings.catalog.priceID(for: tier)!
            if let code = body.referralCode { try await recordReferral(code: code, for: user, context: context) }
            let customerID = try await customer(for: user, context: context)
            let session: CheckoutSession = try await mappingStripeErrors {
                try await stripe.post(
                "/v1/checkout/sessions",
                [
                    ("mode", "subscription"),
                    ("customer", .string(customerID)),
                    ("line_items", [["price": .string(priceID), "quantity": 1]]),
                    ("client_reference_id", .string(user.subject)),
                    ("metadata", .metadata(["user_id": user.subject, "tier": tier.rawValue])),
                    ("subscription_data", ["metadata": .metadata(["user_id": user.subject, "tier": tier.rawValue])]),
                    ("success_url", .string("\(settings.appURL)/dashboard?upgraded=true")),
                    ("cancel_url", .string("\(settings.appURL)/pricing")),
                ]
                )
            }
            guard let url = session.url else { throw APIError(.badGateway, "stripe_invalid_response", "Stripe returned a checkout session without a URL") }
            return CheckoutResponse(url: url, sessionId: session.id)
        }
    }

    /// Links the buyer to the user whose code they brought; an unknown code or one's own is a 400 before any payment.
    func recordReferral(code: String, for user: Identity, context: ServiceRequestContext) async throws {
        guard let normalized = ReferralCode.normalized(code) else { throw APIError.badRequest("invalid_referral_code", "no user has this referral code") }
        try await postgres.withTransaction(logger: context.logger) { connection in
            _ = try await AccountQueries.profile(for: user.subject, email: user.email, role: user.profileRole, on: connection, logger: context.logger)
            guard let referrer = try await ReferralQueries.referrer(code: normalized, on: connection, logger: context.logger) else {
                throw APIError.badRequest("invalid_referral_code", "no user has this referral code")
            }
            guard referrer != user.subject else { throw APIError.badRequest("self_referral", "you cannot use your own referral code") }
            try await ReferralQueries.setReferrer(referrer, of: user.subject, on: connection, logger: context.logger)
        }
    }

    /// The tier a plan name buys; anything else is a 400 naming what is wrong.
    static func purchasableTier(named plan: String, catalog: PlanCatalog) throws -> Tier {
        guard let tier = Tier(rawValue: plan.lowercased()) else {
            throw APIError.badRequest("unknown_plan", "plan must be one of \(Tier.allCases.filter { $0 != .starter }.map(\.rawValue).joined(separator: ", "))")
        }
        guard tier != .starter else { throw APIError.badRequest("plan_not_purchasable", "starter is free and needs no checkout") }
        guard catalog.priceID(for: tier) != nil else {
            throw APIError.badRequest("plan_unavailable", "checkout for \(tier.rawValue) is not configured")
        }
        return tier
    }

    /// The user's Stripe customer, created once. Stripe's idempotency key makes concurrent first checkouts create one
    /// customer; the database keeps the first one stored.
    func customer(for user: Identity, context: ServiceRequestContext) async throws -> String {
        let profile = try await postgres.withConnection { connection in
            try await AccountQueries.profile(for: user.subject, email: user.email, role: user.profileRole, on: connection, logger: context.logger)
        }
        if let existing = profile.stripeCustomerID { return existing }
        var form: FormParameters = [("metadata", .metadata(["user_id": user.subject]))]
        if let email = user.email ?? profile.email { form.append(("email", .string(email))) }
        let customer: Customer = try await mappingStripeErrors {
            try await stripe.post("/v1/customers", form, idempotencyKey: "revmesh-customer-\(user.subject)")
        }
        return try await postgres.withConnection { connection in
            try await AccountQueries.attachCustomer(customer.id, to: user.subject, on: connection, logger: context.logger)
        }
    }
}

import Logging
import PlanKit
import ServiceKit
import StripeKit

/// billing-webhooks' own variables, read and checked at start.
public struct BillingSettings: Sendable {
    public var stripeSecretKey: String
    public var stripeAPIBase: String
    public var catalog: PlanCatalog
    /// Checkout sends the buyer back under this URL.
    public var appURL: String
    public var commissionRates = CommissionRates()

    public init(stripeSecretKey: String, stripeAPIBase: String, catalog: PlanCatalog, appURL: String) {
        self.stripeSecretKey = stripeSecretKey
        self.stripeAPIBase = stripeAPIBase
        self.catalog = catalog
        self.appURL = appURL
    }

    public static func load(from environment: EnvironmentReader) throws -> BillingSettings {
        let key = try environment.required("STRIPE_SECRET_KEY", expecting: "a Stripe secret key (sk_… or rk_…)")
        guard key.hasPrefix("sk_") || key.hasPrefix("rk_") else {
            throw ConfigurationError(variable: "STRIPE_SECRET_KEY", expected: "must be a Stripe secret key (sk_… or rk_…)")
        }
        var priceIDs: [Tier: String] = [:]
        for tier in Tier.allCases {
            let variable = "STRIPE_\(tier.rawValue.uppercased())_PRICE_ID"
            guard let id = environment.optional(variable) else { continue }
            guard id.hasPrefix("price_") else { throw ConfigurationError(variable: variable, expected: "must be a Stripe price id (price_…)") }
            priceIDs[tier] = id
        }
        var settings = BillingSettings(
            stripeSecretKey: key,
            stripeAPIBase: try environment.url("STRIPE_API_BASE", default: StripeClient.defaultAPIBase),
            catalog: PlanCatalog(priceIDs: priceIDs),
            appURL: try environment.url("APP_URL", default: "http://localhost:8080")
        )
        for level in PartnerLevel.allCases {
            let variable = "COMMISSION_RATE_\(level.rawValue.uppercased())_PERCENT"
            settings.commissionRates.percent[level] = try environment.integer(variable, default: settings.commissionRates.percent[level]!, in: 0...100)
        }
        return settings
    }

    /// Says once, at start, which paid tiers cannot be bought because their price is not configured.
    func logDisabledTiers(_ logger: Logger) {
        for tier in Tier.allCases where tier != .starter && catalog.priceID(for: tier) == nil {
            logger.warning(
                "checkout disabled for a tier: its price is not configured",
                metadata: ["tier": .string(tier.rawValue), "variable": .string("STRIPE_\(tier.rawValue.uppercased())_PRICE_ID")]
            )
        }
    }
}

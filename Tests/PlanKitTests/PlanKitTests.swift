import Foundation
import PlanKit
import Testing

@Suite struct TierTests {
    @Test func limitsAndPricesFollowThePricingTable() {
        #expect(Tier.starter.limits == TierLimits(scenarios: 0, aiInsights: 5, transactionVolume: 10_000))
        #expect(Tier.professional.limits == TierLimits(scenarios: 3, aiInsights: 50, transactionVolume: 100_000))
        #expect(Tier.business.limits == TierLimits(scenarios: nil, aiInsights: 200, transactionVolume: 500_000))
        #expect(Tier.enterprise.limits == TierLimits(scenarios: nil, aiInsights: nil, transactionVolume: nil))
        #expect(Tier.allCases.map(\.monthlyPrice.amountCents) == [0, 2_900, 9_900, 29_900])
        #expect(Tier.starter < .professional && Tier.business < .enterprise)
    }

    @Test func unlimitedIsAnExplicitNull() throws {
        let json = String(decoding: try JSONEncoder().encode(Tier.business.limits), as: UTF8.self)
        #expect(json.contains(#""monthly_scenario_limit":null"#))
    }

    @Test func theCatalogMapsPricesBothWays() {
        let catalog = PlanCatalog(priceIDs: [.professional: "price_pro", .business: "price_biz"])
        #expect(catalog.tier(forPrice: "price_biz") == .business)
        #expect(catalog.tier(forPrice: "price_unknown") == nil)
        #expect(catalog.purchasableTiers == [.professional, .business])
    }
}

@Suite struct MonthlyRecurringTests {
    @Test func intervalsNormaliseToMonths() {
        #expect(MonthlyRecurring.amount(unitAmountCents: 10_000, quantity: 1, interval: "month", intervalCount: 1) == 10_000)
        #expect(MonthlyRecurring.amount(unitAmountCents: 60_000, quantity: 1, interval: "year", intervalCount: 1) == 5_000)
        #expect(MonthlyRecurring.amount(unitAmountCents: 3_000, quantity: 2, interval: "month", intervalCount: 3) == 2_000)
        #expect(MonthlyRecurring.rounded(MonthlyRecurring.amount(unitAmountCents: 1_200, quantity: 1, interval: "week", intervalCount: 1)) == 5_200)
        #expect(MonthlyRecurring.amount(unitAmountCents: 500, quantity: 1, interval: "fortnight", intervalCount: 1) == 0)
    }

    /// METRICS.md: 100 subscriptions at $100/month and 50 at $600/year → MRR $12,500.
    @Test func theMetricsExampleAddsUpExactly() {
        let monthly = (0..<100).map { _ in MonthlyRecurring.amount(unitAmountCents: 10_000, quantity: 1, interval: "month", intervalCount: 1) }
        let yearly = (0..<50).map { _ in MonthlyRecurring.amount(unitAmountCents: 60_000, quantity: 1, interval: "year", intervalCount: 1) }
        #expect(MonthlyRecurring.rounded((monthly + yearly).reduce(0, +)) == 1_250_000)
    }
}

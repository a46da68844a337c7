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

@Suite struct UsageBillTests {
    @Test func transactionsOverTheLimitCostTenCentsPerStartedThousand() {
        #expect(UsageBill(tier: .professional, aiInsights: 0, transactionVolume: 100_000).transactionVolumeOverageCharge == .usd(0))
        #expect(UsageBill(tier: .professional, aiInsights: 0, transactionVolume: 100_001).transactionVolumeOverageCharge == .usd(10))
        #expect(UsageBill(tier: .professional, aiInsights: 0, transactionVolume: 350_000).transactionVolumeOverageCharge == .usd(2_500))
        #expect(UsageBill(tier: .business, aiInsights: 0, transactionVolume: 501_999).transactionVolumeOverageCharge == .usd(20))
    }

    @Test func insightsOverTheLimitCostADollarEach() {
        let bill = UsageBill(tier: .professional, aiInsights: 51, transactionVolume: 0)
        #expect(bill.aiInsightsOverageCharge == .usd(100))
        #expect(bill.baseCharge == .usd(2_900))
        #expect(bill.total == .usd(3_000))
    }

    @Test func enterpriseNeverHasOverageAndStarterIsNeverCharged() {
        let enterprise = UsageBill(tier: .enterprise, aiInsights: 1_000_000, transactionVolume: 90_000_000)
        #expect(enterprise.total == .usd(29_900))
        let starter = UsageBill(tier: .starter, aiInsights: 9, transactionVolume: 50_000)
        #expect(starter.total == .usd(0))
        #expect(UsageBill.remaining(7, of: 5) == 0)
        #expect(UsageBill.remaining(7, of: nil) == nil)
    }

    @Test func theMonthIsTheUTCCalendarMonth() {
        let lastSecond = Date(timeIntervalSince1970: 1_798_761_599)  // 2026-12-31T23:59:59Z
        let period = UsagePeriod(containing: lastSecond)
        #expect(period.start == Date(timeIntervalSince1970: 1_796_083_200))  // 2026-12-01T00:00:00Z
        #expect(period.end == Date(timeIntervalSince1970: 1_798_761_600))  // 2027-01-01T00:00:00Z
        #expect(UsagePeriod(containing: period.end).start == period.end)
    }
}

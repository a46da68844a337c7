import Foundation
import RevenueMath
import StripeKit
import TestSupport
import Testing

@testable import StripeSync

/// Which of a subscription's invoices build its history, on Stripe-shaped invoice lines (API 2025-08-27.basil:
/// the price by id under `pricing.price_details`, prorations flagged under `parent.subscription_item_details`).
@Suite struct BilledInvoiceTests {
    static let periodStart = 1_790_000_000

    static func line(price: String, proration: Bool = false) throws -> InvoiceLine {
        let json = """
            {"id": "il_\(UUID().uuidString.prefix(8))", "object": "line_item", "amount": 10000, "currency": "usd", "quantity": 1,
             "period": {"start": \(periodStart), "end": \(periodStart + 2_592_000)},
             "pricing": {"type": "price_details", "price_details": {"price": "\(price)", "product": "prod_1"}},
             "parent": {"type": "subscription_item_details",
                        "subscription_item_details": {"subscription": "sub_1", "subscription_item": "si_1", "proration": \(proration)}}}
            """
        return try JSONDecoder().decode(InvoiceLine.self, from: Data(json.utf8))
    }

    static func price(_ id: String, cents: Int) throws -> Price {
        let json = """
            {"id": "\(id)", "object": "price", "active": true, "currency": "usd", "unit_amount": \(cents), "type": "recurring",
             "billing_scheme": "per_unit", "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}}
            """
        return try JSONDecoder().decode(Price.self, from: Data(json.utf8))
    }

    static func history(_ invoices: [BilledInvoice], prices: [String: Price]) -> InvoiceHistory {
        var history = InvoiceHistory()
        for invoice in invoices { history.add(invoice, prices: prices) }
        return history
    }

    @Test func onlyPaidAndOpenInvoicesBillAndAReissuedOneReplacesTheFirst() throws {
        let prices = ["price_basic": try Self.price("price_basic", cents: 10_000), "price_pro": try Self.price("price_pro", cents: 25_000)]
        let invoices = [
            BilledInvoice(status: "void", created: 1, lines: [try Self.line(price: "price_pro")]),
            BilledInvoice(status: "draft", created: 2, lines: [try Self.line(price: "price_pro")]),
            BilledInvoice(status: "uncollectible", created: 3, lines: [try Self.line(price: "price_pro")]),
            BilledInvoice(status: "paid", created: 4, lines: [try Self.line(price: "price_basic")]),
            BilledInvoice(
                status: "open",
                created: 5,
                lines: [try Self.line(price: "price_basic"), try Self.line(price: "price_pro", proration: true)]
            ),
        ]
        let billed = Self.history(invoices, prices: prices).items
        #expect(billed.count == 1)
        let items = try #require(billed[Self.periodStart])
        #expect(
            items.map(\.cycleAmountCents) == [10_000],
            "one invoice's lines for the period, prorations and void, draft and uncollectible ones left out"
        )
    }

    @Test func anUnpaidSubscriptionWasPaidThroughItsLastPaidPeriod() throws {
        let invoices = [
            BilledInvoice(status: "paid", created: 1, lines: [try Self.line(price: "price_basic")]),
            BilledInvoice(status: "open", created: 2, lines: [try Self.line(price: "price_basic")]),
        ]
        #expect(Self.history(invoices, prices: [:]).paidThrough == Self.periodStart + 2_592_000)
        #expect(Self.history([invoices[1]], prices: [:]).paidThrough == nil)
    }
}

/// Mid-period plan changes, as Stripe invoices their prorations in each API version's line shape.
@Suite struct ProrationHistoryTests {
    static let day = 86_400
    static let periodStart = 1_790_000_000 - 1_790_000_000 % 86_400

    enum Shape: CaseIterable { case subscriptionItemDetails, invoiceItemDetails, olderFlagAndPrice }

    /// A line of `price` for `[start, end)`, as the API version's shape writes it.
    static func line(_ price: Price, amount: Int, start: Int, end: Int, proration: Bool, shape: Shape) throws -> InvoiceLine {
        let common =
            #""id": "il_\#(UUID().uuidString.prefix(8))", "object": "line_item", "amount": \#(amount), "currency": "usd", "quantity": 1, "period": {"start": \#(start), "end": \#(end)}"#
        let json: String
        switch shape {
        case .subscriptionItemDetails:
            json =
                #"{\#(common), "pricing": {"type": "price_details", "price_details": {"price": "\#(price.id)", "product": "prod_1"}}, "parent": {"type": "subscription_item_details", "subscription_item_details": {"subscription": "sub_1", "subscription_item": "si_1", "proration": \#(proration), "proration_details": {"credited_items": null}}}}"#
        case .invoiceItemDetails:
            // Stripe puts prorations made by an update under an invoice item; the regular lines stay subscription items.
            let parent =
                proration
                ? #""parent": {"type": "invoice_item_details", "invoice_item_details": {"invoice_item": "ii_1", "subscription": "sub_1", "proration": true, "proration_details": {"credited_items": null}}}"#
                : #""parent": {"type": "subscription_item_details", "subscription_item_details": {"subscription": "sub_1", "subscription_item": "si_1", "proration": false}}"#
            json = #"{\#(common), "pricing": {"type": "price_details", "price_details": {"price": "\#(price.id)", "product": "prod_1"}}, \#(parent)}"#
        case .olderFlagAndPrice:
            let embedded = String(decoding: try JSONEncoder().encode(price), as: UTF8.self)
            json = #"{\#(common), "type": "subscription", "proration": \#(proration), "price": \#(embedded), "subscription_item": "si_1"}"#
        }
        return try JSONDecoder().decode(InvoiceLine.self, from: Data(json.utf8))
    }

    static let basic = Price(
        id: "price_basic",
        currency: "usd",
        unitAmount: 10_000,
        billingScheme: "per_unit",
        recurring: Recurring(interval: .month)
    )
    static let pro = Price(id: "price_pro", currency: "usd", unitAmount: 25_000, billingScheme: "per_unit", recurring: Recurring(interval: .month))

    /// Basic from the start; pro from day 10 (an upgrade, prorated); basic again from day 40 (a downgrade, prorated).
    static func invoices(_ shape: Shape) throws -> [BilledInvoice] {
        let s = periodStart
        let d = day
        return [
            BilledInvoice(
                status: "paid",
                created: Int64(s),
                lines: [try line(basic, amount: 10_000, start: s, end: s + 30 * d, proration: false, shape: shape)]
            ),
            BilledInvoice(
                status: "paid",
                created: Int64(s + 30 * d),
                lines: [
                    try line(basic, amount: -6_667, start: s + 10 * d, end: s + 30 * d, proration: true, shape: shape),
                    try line(pro, amount: 16_667, start: s + 10 * d, end: s + 30 * d, proration: true, shape: shape),
                    try line(pro, amount: 25_000, start: s + 30 * d, end: s + 60 * d, proration: false, shape: shape),
                ]
            ),
            BilledInvoice(
                status: "paid",
                created: Int64(s + 60 * d),
                lines: [
                    try line(pro, amount: -16_667, start: s + 40 * d, end: s + 60 * d, proration: true, shape: shape),
                    try line(basic, amount: 6_667, start: s + 40 * d, end: s + 60 * d, proration: true, shape: shape),
                    try line(basic, amount: 10_000, start: s + 60 * d, end: s + 90 * d, proration: false, shape: shape),
                ]
            ),
        ]
    }

    @Test(arguments: Shape.allCases)
    func anUpgradeAndADowngradeAreMovementsOnTheDaysTheyHappened(shape: Shape) throws {
        var invoices = InvoiceHistory()
        for invoice in try Self.invoices(shape) { invoices.add(invoice, prices: [Self.basic.id: Self.basic, Self.pro.id: Self.pro]) }
        let s = Self.periodStart
        let d = Self.day
        let billed = invoices.items.mapValues { $0.map(\.priceID) }
        #expect(
            billed == [
                s: ["price_basic"], s + 10 * d: ["price_pro"], s + 30 * d: ["price_pro"], s + 40 * d: ["price_basic"], s + 60 * d: ["price_basic"],
            ]
        )

        let subscription = SubscriptionHistory(
            current: SubscriptionSnapshot(
                id: "sub_1",
                customerID: "cus_1",
                currency: "usd",
                status: "active",
                items: [SnapshotBuilder.item(Self.basic, quantity: 1)]
            ),
            start: Date(timeIntervalSince1970: TimeInterval(s)),
            end: nil,
            billed: invoices.items.map { BilledPeriod(from: Date(timeIntervalSince1970: TimeInterval($0.key)), items: $0.value) }
        )
        let today = Date(timeIntervalSince1970: TimeInterval(s + 70 * d + 3_600))
        let days = RevenueMath.dailyMetrics(subscriptions: [subscription], charges: [], today: today, count: 75)
        func movements(onDay offset: Int) -> Movements? {
            days.first { $0.day == Date(timeIntervalSince1970: TimeInterval(s + offset * d)) }?.movements
        }
        #expect(movements(onDay: 10)?.expansion == 15_000, "the upgrade, on its day")
        #expect(movements(onDay: 40)?.contraction == 15_000, "the downgrade, on its day")
        #expect(movements(onDay: 30) == Movements(), "the renewal at the new price changes nothing")
        #expect(days.first { $0.day == Date(timeIntervalSince1970: TimeInterval(s + 20 * d)) }?.metrics.mrr == 25_000)
        #expect(days.allSatisfy { $0.balanced })
    }
}

/// Prices as Stripe bills them: tiers graduated and volume, packages, sub-cent unit amounts.
@Suite struct PricingSchemeTests {
    static func price(_ json: String) throws -> Price {
        try JSONDecoder().decode(
            Price.self,
            from: Data(
                #"{"id": "price_x", "object": "price", "currency": "usd", "type": "recurring", "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"}, \#(json)}"#
                    .utf8
            )
        )
    }

    static let tiers =
        #""tiers": [{"up_to": 5, "unit_amount": 500, "unit_amount_decimal": "500", "flat_amount": 1000, "flat_amount_decimal": "1000"}, {"up_to": 10, "unit_amount": 400, "unit_amount_decimal": "400", "flat_amount": null, "flat_amount_decimal": null}, {"up_to": null, "unit_amount": 300, "unit_amount_decimal": "300", "flat_amount": null, "flat_amount_decimal": null}]"#

    @Test func eachSchemeChargesWhatStripeInvoices() throws {
        let graduated = try Self.price(
            #""billing_scheme": "tiered", "tiers_mode": "graduated", "unit_amount": null, "unit_amount_decimal": null, \#(Self.tiers)"#
        )
        // 5 × $5 + $10 flat, 5 × $4, 2 × $3.
        #expect(SnapshotBuilder.item(graduated, quantity: 12).cycleAmountCents == Decimal(2_500 + 1_000 + 2_000 + 600))
        #expect(SnapshotBuilder.item(graduated, quantity: 3).cycleAmountCents == Decimal(1_500 + 1_000))
        let volume = try Self.price(
            #""billing_scheme": "tiered", "tiers_mode": "volume", "unit_amount": null, "unit_amount_decimal": null, \#(Self.tiers)"#
        )
        #expect(SnapshotBuilder.item(volume, quantity: 12).cycleAmountCents == Decimal(12 * 300))
        #expect(SnapshotBuilder.item(volume, quantity: 5).cycleAmountCents == Decimal(5 * 500 + 1_000))
        let packagesUp = try Self.price(
            #""billing_scheme": "per_unit", "unit_amount": 1000, "unit_amount_decimal": "1000", "transform_quantity": {"divide_by": 5, "round": "up"}"#
        )
        #expect(SnapshotBuilder.item(packagesUp, quantity: 12).cycleAmountCents == 3_000)
        let packagesDown = try Self.price(
            #""billing_scheme": "per_unit", "unit_amount": 1000, "unit_amount_decimal": "1000", "transform_quantity": {"divide_by": 5, "round": "down"}"#
        )
        #expect(SnapshotBuilder.item(packagesDown, quantity: 12).cycleAmountCents == 2_000)
        let subCent = try Self.price(##""billing_scheme": "per_unit", "unit_amount": null, "unit_amount_decimal": "0.125""##)
        #expect(SnapshotBuilder.item(subCent, quantity: 1_000).cycleAmountCents == 125)
        let subscription = SubscriptionSnapshot(
            id: "sub_1",
            customerID: "cus_1",
            currency: "usd",
            status: "active",
            items: [SnapshotBuilder.item(graduated, quantity: 12)]
        )
        #expect(RevenueMath.mrr(subscription) == 6_100)
    }

    @Test func aTieredPriceWithoutItsTiersIsReadFromThePricesFetchedWhole() throws {
        let listed = try Self.price(#""billing_scheme": "tiered", "tiers_mode": "volume", "unit_amount": null"#)
        #expect(listed.lacksTiers)
        let whole = try Self.price(#""billing_scheme": "tiered", "tiers_mode": "volume", "unit_amount": null, \#(Self.tiers)"#)
        let resolved = try #require(SnapshotBuilder.resolved(listed, id: listed.id, prices: [whole.id: whole]))
        #expect(SnapshotBuilder.item(resolved, quantity: 12).cycleAmountCents == 3_600)
        #expect(SnapshotBuilder.resolved(nil, id: "price_x", prices: [whole.id: whole])?.tiers?.count == 3, "a line naming its price by id")
    }
}

/// A cached subscription whose items no longer decode stops the rebuild with its name, instead of counting as no MRR.
@Suite struct UnreadableCacheTests {
    @Test func anUndecodableRowStopsTheRebuildAndSaysWhich() async throws {
        let account = "acct_unreadable_" + UUID().uuidString.prefix(8)
        try await TestSupport.withPostgres { client in
            try await StripeSyncService.descriptor.migrate(on: client, logger: TestSupport.logger)
            try await client.query(
                """
                INSERT INTO sync.subscriptions_cache (account_id, id, customer_id, status, created, cancel_at_period_end, items)
                VALUES (\(account), 'sub_broken', 'cus_1', 'active', 1790000000, false, '[{"id": 7, "price": "not a price"}]')
                """,
                logger: TestSupport.logger
            )
            let error = await #expect(throws: UnreadableCache.self) {
                try await SnapshotBuilder.histories(account: account, postgres: client, logger: TestSupport.logger)
            }
            #expect(error?.description.hasPrefix("subscriptions_cache row sub_broken cannot be read") == true)
        }
    }
}

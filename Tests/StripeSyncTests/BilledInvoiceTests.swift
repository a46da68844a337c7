import Foundation
import RevenueMath
import StripeKit
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
            items.map(\.unitAmountCents) == [10_000],
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

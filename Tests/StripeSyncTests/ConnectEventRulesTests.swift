import ServiceKit
import StripeKit
import Testing

@testable import StripeSync

/// Which object a Connect event makes the cache read again, by Stripe's event shapes.
@Suite struct ConnectEventRulesTests {
    @Test func eachEventNamesTheObjectToReadAgain() {
        func target(_ type: String, _ object: [String: JSONValue]) -> ConnectTarget { ConnectTarget(type: type, object: .object(object)) }
        #expect(target("customer.updated", ["id": "cus_1", "object": "customer"]) == .customer("cus_1", deleted: false))
        #expect(target("customer.deleted", ["id": "cus_1", "object": "customer"]) == .customer("cus_1", deleted: true))
        #expect(target("customer.subscription.paused", ["id": "sub_1", "object": "subscription"]) == .subscription("sub_1"))
        #expect(target("invoice.payment_failed", ["id": "in_1", "object": "invoice"]) == .invoice("in_1"))
        #expect(target("charge.refunded", ["id": "ch_1", "object": "charge"]) == .charge("ch_1"))
        #expect(target("charge.dispute.created", ["id": "dp_1", "object": "dispute", "charge": "ch_1"]) == .charge("ch_1"))
        #expect(target("refund.updated", ["id": "re_1", "object": "refund", "charge": "ch_2"]) == .charge("ch_2"))
        #expect(target("payment_intent.succeeded", ["id": "pi_1", "object": "payment_intent", "latest_charge": "ch_3"]) == .charge("ch_3"))
        #expect(target("payment_intent.created", ["id": "pi_1", "object": "payment_intent", "latest_charge": .null]) == .ignored("no_charge_yet"))
        #expect(
            target("customer.discount.created", ["id": "di_1", "object": "discount", "customer": "cus_1", "subscription": "sub_9"])
                == .subscription("sub_9")
        )
        #expect(target("customer.discount.deleted", ["id": "di_1", "object": "discount", "customer": "cus_1"]) == .customer("cus_1", deleted: false))
        #expect(target("account.application.deauthorized", ["id": "ca_1", "object": "application"]) == .deauthorized)
        #expect(target("issuing_card.created", ["id": "ic_1", "object": "issuing.card"]) == .ignored("unhandled_type"))
    }

    /// An invoice reaches back to the first period it bills; a charge to its own date; a subscription the cache did
    /// not have to its creation; anything else to the event's own time.
    @Test func aChangeReachesBackAsFarAsItsObject() {
        let line = InvoiceLine(id: "il_1", amount: 1_000, currency: "usd", quantity: 1, period: Period(start: 500, end: 3_000), price: nil)
        let invoice = Invoice(
            id: "in_1",
            status: .paid,
            currency: "usd",
            amountDue: 1_000,
            amountPaid: 1_000,
            created: 2_000,
            lines: StripeList(data: [line])
        )
        #expect(ConnectTarget.touchedFrom(eventCreated: 9_000, invoice: invoice) == 500)
        let subscription = Subscription(id: "sub_1", customer: "cus_1", status: .active, created: 1_200, currency: "usd", items: StripeList(data: []))
        #expect(ConnectTarget.touchedFrom(eventCreated: 9_000, newSubscription: subscription) == 1_200)
        #expect(ConnectTarget.touchedFrom(eventCreated: 9_000) == 9_000)
    }
}

import Foundation
import StripeKit
import Testing

/// Stripe's published example of each object decodes, unknown fields and all.
@Suite struct ModelDecodingTests {
    static let fixturesURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/fixtures/stripe/fixtures3.json")

    static func fixture(_ name: String) throws -> Data {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: fixturesURL)) as? [String: Any]
        let object = try #require((json?["resources"] as? [String: Any])?[name], "fixtures3.json has no \(name)")
        return try JSONSerialization.data(withJSONObject: object)
    }

    static func decode<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: fixture(name))
    }

    @Test func customer() throws {
        let customer = try Self.decode("customer", as: Customer.self)
        #expect(customer.id.hasPrefix("cus_"))
    }

    /// The coupon of a discount is at `coupon` up to 2025-08-27.basil, at `source.coupon` after; either may be an id.
    @Test func aDiscountsCouponIsReadInEitherAPIVersionsPlace() throws {
        let coupon = #"{"id": "tenth", "object": "coupon", "duration": "forever", "percent_off": 10}"#
        let basil = try JSONDecoder().decode(CouponDiscount.self, from: Data(#"{"id": "di_1", "coupon": \#(coupon), "start": 1}"#.utf8))
        let clover = try JSONDecoder().decode(
            CouponDiscount.self,
            from: Data(#"{"id": "di_1", "source": {"type": "coupon", "coupon": \#(coupon)}, "start": 1}"#.utf8)
        )
        #expect(basil.coupon?.percentOff == 10 && clover.coupon?.percentOff == 10)
        let idOnly = try JSONDecoder().decode(
            CouponDiscount.self,
            from: Data(#"{"id": "di_1", "source": {"type": "coupon", "coupon": "tenth"}}"#.utf8)
        )
        #expect(idOnly.coupon == nil)
        #expect(try Self.decode("discount", as: CouponDiscount.self).start == 1_234_567_890)
    }

    @Test func subscriptionWithItemsAndPrices() throws {
        let subscription = try Self.decode("subscription", as: Subscription.self)
        #expect(subscription.status == .active)
        let item = try #require(subscription.items.data.first)
        #expect(item.price.recurring?.interval == .month)
        #expect(subscription.customer.id.hasPrefix("cus_"))
    }

    @Test func subscriptionItemKeepsItsPeriod() throws {
        let item = try Self.decode("subscription_item", as: SubscriptionItem.self)
        #expect(item.currentPeriodEnd != nil)
    }

    @Test func price() throws {
        let price = try Self.decode("price", as: Price.self)
        #expect(price.unitAmount == 2000)
        #expect(price.recurring == Recurring(interval: .month, intervalCount: 1, usageType: "licensed"))
    }

    @Test func invoiceWithLinesAndParent() throws {
        let invoice = try Self.decode("invoice", as: Invoice.self)
        #expect(invoice.lines.data.first?.amount == 1000)
        #expect(invoice.subscriptionID == "subscription")
    }

    @Test func chargeWithRefunds() throws {
        let charge = try Self.decode("charge", as: Charge.self)
        #expect(charge.status == .succeeded)
        #expect(charge.refunds?.data.isEmpty == true)
    }

    @Test func dispute() throws {
        let dispute = try Self.decode("dispute", as: Dispute.self)
        #expect(dispute.charge.id.hasPrefix("ch_"))
        // "warning_needs_response" is not one of our named statuses and still decodes.
        #expect(dispute.status.rawValue == "warning_needs_response")
    }

    @Test func checkoutSession() throws {
        let session = try Self.decode("checkout.session", as: CheckoutSession.self)
        #expect(session.mode == .payment)
        #expect(session.url?.hasPrefix("https://") == true)
    }

    @Test func account() throws {
        let account = try Self.decode("account", as: Account.self)
        #expect(account.defaultCurrency == "usd")
    }

    @Test func eventKeepsItsObjectForLater() throws {
        let event = try Event.decode(Self.fixture("event"))
        #expect(event.type == "plan.created")
        #expect(event.objectType == "plan")
        struct Plan: Decodable { let id: String }
        #expect(try event.object(as: Plan.self).id.hasPrefix("price_"))
    }

    @Test func unknownEnumValuesDecode() throws {
        var subscription = try JSONSerialization.jsonObject(with: Self.fixture("subscription")) as! [String: Any]
        subscription["status"] = "a_status_stripe_adds_next_year"
        let decoded = try JSONDecoder().decode(Subscription.self, from: JSONSerialization.data(withJSONObject: subscription))
        #expect(decoded.status.rawValue == "a_status_stripe_adds_next_year")
    }

    @Test func expandedIDsKeepTheID() throws {
        var charge = try JSONSerialization.jsonObject(with: Self.fixture("charge")) as! [String: Any]
        charge["customer"] = try JSONSerialization.jsonObject(with: Self.fixture("customer"))
        let decoded = try JSONDecoder().decode(Charge.self, from: JSONSerialization.data(withJSONObject: charge))
        #expect(decoded.customer?.id.hasPrefix("cus_") == true)
    }
}

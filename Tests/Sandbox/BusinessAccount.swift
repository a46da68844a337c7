import Foundation
import ServiceKit
import StripeKit

extension ConnectedAccountData {
    /// A small business's last 180 days as Stripe would hold them (API 2025-08-27.basil shapes), for accounts the
    /// sandbox's Connect page makes up: monthly, yearly and per-seat tiered plans; trials; upgrades and downgrades
    /// mid-period with their proration lines; cancellations, some at period end, and customers who came back; forever
    /// and repeating coupons; failed payments, past-due and unpaid subscriptions, a refund and a dispute. The same for
    /// the same seed.
    public static func business(customers count: Int, seed: UInt64, now: Date = Date()) -> ConnectedAccountData {
        var random = SeededRandom(seed: seed)
        let day = 86_400
        let today = Int(now.timeIntervalSince1970)
        func plan(_ id: String, _ cents: Int, _ interval: Recurring.Interval = .month) -> Price {
            Price(
                id: id,
                active: true,
                currency: "usd",
                unitAmount: cents,
                unitAmountDecimal: String(cents),
                billingScheme: "per_unit",
                recurring: Recurring(interval: interval),
                product: ExpandableID("prod_" + id.dropFirst("price_".count))
            )
        }
        let plans = [plan("price_starter", 2_900), plan("price_pro", 9_900), plan("price_team", 29_900)]
        let annual = plan("price_pro_annual", 99_000, .year)
        var seats = plan("price_seats", 0)
        seats.unitAmount = nil
        seats.unitAmountDecimal = nil
        seats.billingScheme = "tiered"
        seats.tiersMode = "graduated"
        seats.tiers = [.init(upTo: 5, unitAmount: 1_500, flatAmount: 2_000), .init(upTo: nil, unitAmount: 1_000)]

        var data = ConnectedAccountData()
        data.prices = plans + [annual, seats]
        var invoiceNumber = 0
        var chargeNumber = 0
        func bill(
            _ subscription: Subscription,
            _ price: Price,
            quantity: Int,
            amount: Int,
            from: Int,
            until: Int,
            paid: Bool,
            extra: [InvoiceLine] = []
        ) {
            invoiceNumber += 1
            let id = String(format: "in_biz%06d", invoiceNumber)
            let line = InvoiceLine(
                id: "il_\(id)",
                amount: amount,
                currency: "usd",
                quantity: quantity,
                period: Period(start: from, end: until),
                pricing: .init(priceDetails: .init(price: ExpandableID(price.id))),
                parent: .init(subscriptionItemDetails: .init(proration: false, subscription: subscription.id))
            )
            let lines = extra + [line]
            let total = lines.reduce(0) { $0 + $1.amount }
            data.invoices.append(
                Invoice(
                    id: id,
                    customer: subscription.customer,
                    status: paid ? .paid : .open,
                    currency: "usd",
                    amountDue: total,
                    amountPaid: paid ? total : 0,
                    created: from,
                    lines: StripeList(data: lines),
                    subscription: ExpandableID(subscription.id)
                )
            )
            chargeNumber += 1
            let disputed = chargeNumber == 7
            let refunded = chargeNumber == 11 ? total / 2 : 0
            data.charges.append(
                Charge(
                    id: String(format: "ch_biz%06d", chargeNumber),
                    amount: total,
                    amountCaptured: paid ? total : 0,
                    amountRefunded: refunded,
                    currency: "usd",
                    customer: subscription.customer,
                    created: from,
                    status: paid ? .succeeded : .failed,
                    paid: paid,
                    refunded: refunded > 0,
                    disputed: disputed,
                    invoice: ExpandableID(id),
                    failureCode: paid ? nil : "card_declined",
                    dispute: disputed ? ExpandableID(String(format: "dp_biz%06d", chargeNumber)) : nil
                )
            )
        }

        // Every account shows a reactivation, whatever its seed: the first churner who can come back does.
        var someoneCameBack = false
        for index in 0..<count {
            let customerID = String(format: "cus_biz%06d", index)
            let joined = today - (10 + random.next(170)) * day - random.next(day)
            data.customers.append(Customer(id: customerID, email: "owner\(index)@business\(index % 37).example", created: joined))
            let roll = random.next(100)
            var price = index % 9 == 0 ? annual : index % 11 == 0 ? seats : plans[random.next(plans.count)]
            let quantity = price.id == seats.id ? 2 + random.next(12) : 1
            let monthly = price.recurring?.interval == .year ? 365 * day : 30 * day
            let trial = roll < 15
            let start = trial ? joined + 14 * day : joined
            var subscription = Subscription(
                id: String(format: "sub_biz%06d", index),
                customer: ExpandableID(customerID),
                status: .active,
                created: joined,
                trialEnd: trial ? start : nil,
                currency: "usd",
                items: StripeList(data: [SubscriptionItem(id: String(format: "si_biz%06d", index), price: price, quantity: quantity)])
            )
            if start > today {
                subscription.status = .trialing
                data.subscriptions.append(subscription)
                continue
            }
            // Coupons: a fifth off forever for some, half off for three months for others.
            if roll % 10 == 1 {
                subscription.discounts = [
                    .object(CouponDiscount(id: "di_biz\(index)", coupon: Coupon(id: "loyal20", duration: .forever, percentOff: 20), start: start))
                ]
            } else if roll % 10 == 2 {
                let coupon = Coupon(id: "intro50", duration: .repeating, percentOff: 50, durationInMonths: 3)
                subscription.discounts = [.object(CouponDiscount(id: "di_biz\(index)", coupon: coupon, start: start, end: start + 90 * day))]
            }
            let churns = roll >= 85
            let lastPeriod = churns ? start + (1 + random.next(3)) * monthly : today
            let amountOf = { (price: Price, quantity: Int) -> Int in
                price.tiers == nil
                    ? (price.unitAmount ?? 0) * quantity : quantity <= 5 ? 2_000 + quantity * 1_500 : 2_000 + 7_500 + (quantity - 5) * 1_000
            }
            // One mid-period change for some monthly customers: up a plan, or down one.
            let changeAt =
                price.recurring?.interval == .month && price.id != seats.id && (roll < 10 || (20..<25).contains(roll))
                ? start + monthly + 10 * day : nil
            var period = start
            var failedAt: Int?
            while period < min(lastPeriod, today) {
                let end = period + monthly
                var prorations: [InvoiceLine] = []
                if let changeAt, changeAt < period, changeAt >= period - monthly, subscription.items.data[0].price.id == price.id {
                    let position = plans.firstIndex { $0.id == price.id } ?? 0
                    let next = roll < 10 ? plans[min(position + 1, plans.count - 1)] : plans[max(position - 1, 0)]
                    if next.id != price.id {
                        let share = { (cents: Int) in cents * (period - changeAt) / monthly }
                        prorations = [
                            InvoiceLine(
                                id: "il_credit_\(index)",
                                amount: -share(price.unitAmount ?? 0),
                                currency: "usd",
                                quantity: 1,
                                period: Period(start: changeAt, end: period),
                                pricing: .init(priceDetails: .init(price: ExpandableID(price.id))),
                                parent: .init(invoiceItemDetails: .init(proration: true, subscription: subscription.id))
                            ),
                            InvoiceLine(
                                id: "il_debit_\(index)",
                                amount: share(next.unitAmount ?? 0),
                                currency: "usd",
                                quantity: 1,
                                period: Period(start: changeAt, end: period),
                                pricing: .init(priceDetails: .init(price: ExpandableID(next.id))),
                                parent: .init(invoiceItemDetails: .init(proration: true, subscription: subscription.id))
                            ),
                        ]
                        price = next
                        subscription.items.data[0].price = next
                    }
                }
                // Payments fail now and then; the latest one's failure leaves the subscription past due or unpaid.
                let paid = random.next(30) != 0 || end < today - 40 * day
                if !paid { failedAt = period }
                bill(
                    subscription,
                    price,
                    quantity: quantity,
                    amount: amountOf(price, quantity),
                    from: period,
                    until: end,
                    paid: paid,
                    extra: prorations
                )
                period = end
            }
            if churns {
                subscription.status = .canceled
                let atPeriodEnd = random.next(2) == 0
                subscription.cancelAtPeriodEnd = atPeriodEnd
                subscription.canceledAt = atPeriodEnd ? period - 12 * day : period
                subscription.endedAt = period
                data.subscriptions.append(subscription)
                // A third come back later, on a new subscription.
                if random.next(3) == 0 || !someoneCameBack, period + 20 * day < today {
                    someoneCameBack = true
                    var back = subscription
                    back.id += "_back"
                    back.status = .active
                    back.created = period + 20 * day
                    back.canceledAt = nil
                    back.endedAt = nil
                    back.cancelAtPeriodEnd = false
                    back.trialEnd = nil
                    back.discounts = nil
                    back.items.data[0].id += "_back"
                    data.subscriptions.append(back)
                    bill(
                        back,
                        price,
                        quantity: quantity,
                        amount: amountOf(price, quantity),
                        from: back.created,
                        until: back.created + monthly,
                        paid: true
                    )
                }
                continue
            }
            if let failedAt, failedAt > today - 40 * day {
                subscription.status = failedAt < today - 20 * day ? .unpaid : .pastDue
            }
            data.subscriptions.append(subscription)
        }
        return data
    }
}

import PlanKit
import StripeKit

/// What billing keeps of a Stripe subscription.
struct SubscriptionSnapshot: Equatable, Sendable {
    var id: String
    var customerID: String
    var status: String
    var priceID: String?
    var tier: Tier
    /// False when the price is not one of the configured plan prices (the tier is then starter).
    var priceIsKnown: Bool
    var unitAmountCents: Int64?
    var quantity: Int
    var currency: String?
    var interval: String?
    var intervalCount: Int
    var periodStart: Int?
    var periodEnd: Int?
    var cancelAtPeriodEnd: Bool
    /// `metadata.user_id`, set by our checkout.
    var userID: String?

    init(_ subscription: Subscription, catalog: PlanCatalog) {
        let item = subscription.items.data.first
        let priceID = item?.price.id
        let tier = priceID.flatMap(catalog.tier(forPrice:))
        id = subscription.id
        customerID = subscription.customer.id
        status = subscription.status.rawValue
        self.priceID = priceID
        self.tier = tier ?? .starter
        priceIsKnown = tier != nil
        unitAmountCents = item?.price.unitAmount.map(Int64.init)
        quantity = item?.quantity ?? 1
        currency = item?.price.currency ?? subscription.currency
        interval = item?.price.recurring?.interval.rawValue
        intervalCount = item?.price.recurring?.intervalCount ?? 1
        periodStart = subscription.periodStart
        periodEnd = subscription.periodEnd
        cancelAtPeriodEnd = subscription.cancelAtPeriodEnd ?? false
        userID = subscription.metadata?["user_id"]
    }
}

/// How Stripe's subscription states become a profile's tier and status. No I/O.
enum BillingRules {
    /// Statuses in which the user keeps what they paid for.
    static let entitledStatuses: Set<String> = ["active", "trialing", "past_due"]

    /// The tier and status a profile shows for a subscription in this state; `deleted` is
    /// `customer.subscription.deleted`, which always returns the user to starter.
    static func profileState(for subscription: SubscriptionSnapshot, deleted: Bool) -> (tier: Tier, status: String) {
        if deleted { return (.starter, "canceled") }
        guard entitledStatuses.contains(subscription.status) else { return (.starter, subscription.status) }
        return (subscription.tier, subscription.status)
    }

    /// Whether a subscription state from an event stamped `eventCreated` may change the profile.
    /// An older state never overwrites a newer one (equal stamps apply: Stripe's clock has whole seconds), and the
    /// end of a subscription other than the profile's current one leaves the profile alone.
    static func appliesToProfile(
        profileSubscriptionID: String?,
        profileStateAt: Int64,
        subscription: SubscriptionSnapshot,
        deleted: Bool,
        eventCreated: Int64
    ) -> Bool {
        guard eventCreated >= profileStateAt else { return false }
        if profileSubscriptionID == nil || profileSubscriptionID == subscription.id { return true }
        return !deleted && entitledStatuses.contains(subscription.status)
    }
}

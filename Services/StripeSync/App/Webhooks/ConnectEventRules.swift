import ServiceKit
import StripeKit

/// What a Connect event asks of the cache: which object to read again whole from Stripe, or why nothing. Reading the
/// object again (rather than trusting the event's copy) makes the cache hold Stripe's state now, whatever order the
/// events arrive in, and gets the expansions events carry as ids only. No I/O.
enum ConnectTarget: Equatable, Sendable {
    case customer(String, deleted: Bool)
    case subscription(String)
    case invoice(String)
    case charge(String)
    case deauthorized
    case ignored(String)

    /// The object whose newest applied event decides whether a later-arriving older one still matters.
    var objectID: String? {
        switch self {
        case .customer(let id, _), .subscription(let id), .invoice(let id), .charge(let id): id
        case .deauthorized, .ignored: nil
        }
    }

    init(type: String, object: JSONValue) {
        if type == "account.application.deauthorized" {
            self = .deauthorized
            return
        }
        let id = object["id"]?.string
        switch (object["object"]?.string, id) {
        case ("customer", let id?): self = .customer(id, deleted: type == "customer.deleted")
        case ("subscription", let id?): self = .subscription(id)
        case ("invoice", let id?): self = .invoice(id)
        case ("charge", let id?): self = .charge(id)
        // A dispute or refund changes its charge; a payment intent's outcome is its latest charge's.
        case ("dispute", _), ("refund", _):
            self = object["charge"]?.string.map(Self.charge) ?? .ignored("no_charge")
        case ("payment_intent", _):
            self = object["latest_charge"]?.string.map(Self.charge) ?? .ignored("no_charge_yet")
        // `customer.discount.*`: the discount of a subscription, or of the customer.
        case ("discount", _):
            if let subscription = object["subscription"]?.string {
                self = .subscription(subscription)
            } else if let customer = object["customer"]?.string {
                self = .customer(customer, deleted: false)
            } else {
                self = .ignored("unattached_discount")
            }
        default: self = .ignored("unhandled_type")
        }
    }
}

extension ConnectTarget {
    /// The earliest moment the change can alter a day's metrics: the event's own time, or earlier where the object
    /// reaches back (a subscription the cache did not have yet, from its creation; the first period an invoice bills;
    /// a charge's date, whose 30-day windows include it).
    static func touchedFrom(eventCreated: Int, newSubscription: Subscription? = nil, invoice: Invoice? = nil, charge: Charge? = nil) -> Int {
        var moments = [eventCreated]
        if let newSubscription { moments.append(newSubscription.created) }
        if let invoice { moments += invoice.lines.data.compactMap { $0.period?.start } + [invoice.created] }
        if let charge { moments.append(charge.created) }
        return moments.min() ?? eventCreated
    }
}

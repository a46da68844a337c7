import Hummingbird

/// What a webhook did with a Stripe event, as it answers Stripe (any 2xx stops Stripe's retries).
public struct WebhookReceipt: ResponseEncodable, Equatable, Sendable {
    public var received = true
    public var eventID: String
    public var outcome: String

    public init(eventID: String, outcome: String) {
        self.eventID = eventID
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case received, outcome
        case eventID = "event_id"
    }
}

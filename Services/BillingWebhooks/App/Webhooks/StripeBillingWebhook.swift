import Foundation
import Hummingbird
import Logging
import PlanKit
import PostgresNIO
import ServiceKit
import StripeKit

/// `POST /api/webhooks/stripe-billing`: Stripe's billing events, applied once each, in order of Stripe's clock.
struct StripeBillingWebhook {
    let postgres: PostgresClient
    let stripe: StripeClient
    let catalog: PlanCatalog
    let commissionRates: CommissionRates

    /// What an event asks for, read and checked before anything is written.
    enum Change {
        case subscription(SubscriptionSnapshot, deleted: Bool, email: String?, userID: String?)
        case paymentSucceeded(Invoice)
        case paymentFailed(Invoice)
        case ignored(String)
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.post("/api/webhooks/stripe-billing") { request, context in
            let identity = try context.requireIdentity()
            guard identity.role == .stripe else {
                throw APIError.forbidden("stripe_required", "only Stripe's signed events reach this endpoint")
            }
            let body = try await request.body.collect(upTo: 1024 * 1024)
            let event: Event
            do {
                event = try Event.decode(Data(buffer: body))
            } catch {
                throw APIError.badRequest("invalid_event", "the body is not a Stripe event")
            }
            return try await handle(event, logger: context.logger)
        }
    }

    func handle(_ event: Event, logger: Logger) async throws -> WebhookReceipt {
        var logger = logger
        logger[metadataKey: "stripe_event"] = .string(event.id)
        let change = try await read(event, logger: logger)
        let outcome = try await postgres.withTransaction(logger: logger) { connection in
            guard try await WebhookQueries.recordEvent(id: event.id, type: event.type, created: Int64(event.created), on: connection, logger: logger)
            else { return "duplicate" }
            let outcome = try await apply(change, event: event, on: connection, logger: logger)
            try await WebhookQueries.setOutcome(outcome, eventID: event.id, on: connection, logger: logger)
            return outcome
        }
        logger.info("stripe event handled", metadata: ["type": .string(event.type), "outcome": .string(outcome)])
        return WebhookReceipt(eventID: event.id, outcome: outcome)
    }

    /// Decodes the event's object and fetches what it lacks from Stripe; a malformed object is 400, nothing written.
    func read(_ event: Event, logger: Logger) async throws -> Change {
        do {
            switch event.type {
            case "checkout.session.completed":
                let session = try event.object(as: CheckoutSession.self)
                guard session.mode == .subscription, let subscriptionID = session.subscription?.id else {
                    return .ignored("not_a_subscription_checkout")
                }
                // The session does not say what was bought: the subscription it created does.
                let subscription: Subscription = try await stripe.get("/v1/subscriptions/\(subscriptionID)")
                return .subscription(
                    snapshot(subscription, logger: logger),
                    deleted: false,
                    email: session.customerDetails?.email ?? session.customerEmail,
                    userID: session.clientReferenceID ?? session.metadata?["user_id"]
                )
            case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
                let subscription = snapshot(try event.object(as: Subscription.self), logger: logger)
                return .subscription(subscription, deleted: event.type == "customer.subscription.deleted", email: nil, userID: subscription.userID)
            case "invoice.payment_succeeded":
                return .paymentSucceeded(try event.object(as: Invoice.self))
            case "invoice.payment_failed":
                return .paymentFailed(try event.object(as: Invoice.self))
            default:
                return .ignored("unhandled_type")
            }
        } catch let error as DecodingError {
            throw APIError.badRequest("invalid_event", "the \(event.type) event's object is not valid: \(error.readableDescription)")
        } catch let error as StripeError where error.status == 404 {
            throw APIError.badRequest("invalid_event", "the event names a subscription Stripe does not know")
        } catch is StripeError, is StripeConnectionError {
            throw APIError(.serviceUnavailable, "stripe_unavailable", "Stripe could not be asked about this event; it will be retried")
        }
    }

    private func snapshot(_ subscription: Subscription, logger: Logger) -> SubscriptionSnapshot {
        let snapshot = SubscriptionSnapshot(subscription, catalog: catalog)
        if !snapshot.priceIsKnown {
            logger.warning(
                "subscription price is not a configured plan price; treating it as starter",
                metadata: ["subscription": .string(snapshot.id), "price": .string(snapshot.priceID ?? "none")]
            )
        }
        return snapshot
    }

    func apply(_ change: Change, event: Event, on connection: PostgresConnection, logger: Logger) async throws -> String {
        let created = Int64(event.created)
        switch change {
        case .ignored(let reason):
            return "ignored:\(reason)"

        case .subscription(let subscription, let deleted, let email, let userID):
            guard
                let profile = try await findProfile(userID: userID, customerID: subscription.customerID, email: email, on: connection, logger: logger)
            else { return unmatched(event, logger: logger) }
            let state = BillingRules.profileState(for: subscription, deleted: deleted)
            let stored = try await WebhookQueries.upsertSubscription(
                subscription,
                userID: profile.id,
                status: deleted ? "canceled" : subscription.status,
                eventCreated: created,
                on: connection,
                logger: logger
            )
            let profileStateAt = try await WebhookQueries.stateAt(of: profile.id, on: connection, logger: logger)
            guard stored,
                BillingRules.appliesToProfile(
                    profileSubscriptionID: profile.stripeSubscriptionID,
                    profileStateAt: profileStateAt,
                    subscription: subscription,
                    deleted: deleted,
                    eventCreated: created
                )
            else { return "stale" }
            try await WebhookQueries.updateProfile(
                userID: profile.id,
                tier: state.tier,
                status: state.status,
                customerID: subscription.customerID,
                subscriptionID: subscription.id,
                periodEnd: deleted ? nil : subscription.periodEnd,
                eventCreated: created,
                on: connection,
                logger: logger
            )
            try await WebhookQueries.appendHistory(
                userID: profile.id,
                eventID: event.id,
                eventType: event.type,
                from: (profile.subscriptionTier, profile.subscriptionStatus),
                to: state,
                on: connection,
                logger: logger
            )
            // Recorded with the event, so an operator can find the purchases of prices nobody configured.
            return subscription.priceIsKnown ? "applied" : "applied:unknown_price"

        case .paymentSucceeded(let invoice):
            guard
                let profile = try await findProfile(
                    userID: nil,
                    customerID: invoice.customer?.id,
                    email: invoice.customerEmail,
                    on: connection,
                    logger: logger
                )
            else { return unmatched(event, logger: logger) }
            let period =
                invoice.lines.data.first?.period.map { (start: $0.start, end: $0.end) }
                ?? bothOrNil(invoice.periodStart, invoice.periodEnd)
            try await WebhookQueries.recordPayment(
                invoiceID: invoice.id,
                userID: profile.id,
                customerID: invoice.customer?.id,
                subscriptionID: invoice.subscriptionID,
                amount: Money(cents: Int64(invoice.amountPaid), currency: invoice.currency),
                period: period,
                paidAt: Int64(invoice.statusTransitions?.paidAt ?? event.created),
                eventID: event.id,
                on: connection,
                logger: logger
            )
            try await ReferralQueries.recordCommission(
                invoiceID: invoice.id,
                payer: profile,
                payment: Money(cents: Int64(invoice.amountPaid), currency: invoice.currency),
                rates: commissionRates,
                on: connection,
                logger: logger
            )
            return "payment_recorded"

        case .paymentFailed(let invoice):
            guard
                let profile = try await findProfile(
                    userID: nil,
                    customerID: invoice.customer?.id,
                    email: invoice.customerEmail,
                    on: connection,
                    logger: logger
                )
            else { return unmatched(event, logger: logger) }
            let profileStateAt = try await WebhookQueries.stateAt(of: profile.id, on: connection, logger: logger)
            guard created >= profileStateAt, invoice.subscriptionID == nil || invoice.subscriptionID == profile.stripeSubscriptionID else {
                return "stale"
            }
            try await WebhookQueries.markPastDue(
                userID: profile.id,
                subscriptionID: invoice.subscriptionID,
                eventCreated: created,
                on: connection,
                logger: logger
            )
            try await WebhookQueries.appendHistory(
                userID: profile.id,
                eventID: event.id,
                eventType: event.type,
                from: (profile.subscriptionTier, profile.subscriptionStatus),
                to: (profile.subscriptionTier, "past_due"),
                on: connection,
                logger: logger
            )
            return "marked_past_due"
        }
    }

    /// The user an event is about: our own user id first, then the Stripe customer, then an unambiguous email.
    func findProfile(userID: String?, customerID: String?, email: String?, on connection: PostgresConnection, logger: Logger) async throws -> Profile?
    {
        if let userID, let profile = try await AccountQueries.existingProfile(userID, on: connection, logger: logger, lock: true) { return profile }
        if let customerID, let profile = try await AccountQueries.profile(customerID: customerID, on: connection, logger: logger) { return profile }
        if let email { return try await AccountQueries.profile(email: email, on: connection, logger: logger) }
        return nil
    }

    private func unmatched(_ event: Event, logger: Logger) -> String {
        logger.warning("stripe event matches no user; recorded and skipped", metadata: ["type": .string(event.type)])
        return "unmatched_user"
    }
}

private func bothOrNil(_ start: Int?, _ end: Int?) -> (start: Int, end: Int)? {
    guard let start, let end else { return nil }
    return (start, end)
}

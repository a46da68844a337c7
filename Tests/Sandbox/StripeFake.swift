import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import StripeKit
import Synchronization

/// A price the sandbox knows from the start, so `make run` has prices to check out with.
public struct SandboxPrice: Sendable {
    public var id: String
    public var nickname: String
    public var unitAmount: Int
    public var currency: String
    public var interval: Recurring.Interval

    public init(id: String, nickname: String, unitAmount: Int, currency: String = "usd", interval: Recurring.Interval = .month) {
        self.id = id
        self.nickname = nickname
        self.unitAmount = unitAmount
        self.currency = currency
        self.interval = interval
    }

    /// The plan prices of METRICS.md, with fixed ids `make run` configures billing-webhooks with.
    public static let revmeshPlans = [
        SandboxPrice(id: "price_sandbox_professional", nickname: "Professional", unitAmount: 2900),
        SandboxPrice(id: "price_sandbox_business", nickname: "Business", unitAmount: 9900),
        SandboxPrice(id: "price_sandbox_enterprise", nickname: "Enterprise", unitAmount: 29900),
    ]
}

/// An event the sandbox sent (or tried to send) to the webhook URL.
public struct SentEvent: Codable, Sendable {
    public var id: String
    public var type: String
    public var payload: String
    /// The HTTP status of each delivery attempt; 0 when nothing answered.
    public var deliveries: [Int]
}

/// The Stripe API subset Revmesh calls, kept in memory, with signed events sent to a webhook URL.
public final class StripeFake: Sendable {
    struct State {
        var customers: [String: Customer] = [:]
        var customerOrder: [String] = []
        var prices: [String: Price] = [:]
        var sessions: [String: CheckoutSession] = [:]
        var sessionPrices: [String: (price: String, quantity: Int, subscriptionMetadata: [String: String])] = [:]
        var subscriptions: [String: Subscription] = [:]
        var invoices: [String: Invoice] = [:]
        var events: [SentEvent] = []
        var webhook: (url: String, secret: String)?
    }

    let state = Mutex(State())
    private let publicBase: Mutex<String>
    let http: HTTPClient

    init(publicURL: String, prices: [SandboxPrice], webhookURL: String?, webhookSecret: String?, http: HTTPClient) {
        publicBase = Mutex(publicURL)
        self.http = http
        state.withLock { state in
            for price in prices {
                state.prices[price.id] = Price(
                    id: price.id,
                    active: true,
                    currency: price.currency,
                    unitAmount: price.unitAmount,
                    recurring: Recurring(interval: price.interval),
                    product: ExpandableID("prod_\(price.nickname.lowercased())"),
                    nickname: price.nickname,
                    metadata: [:]
                )
            }
            if let webhookURL, let webhookSecret { state.webhook = (webhookURL, webhookSecret) }
        }
    }

    public var sentEvents: [SentEvent] { state.withLock { $0.events } }

    /// The base of the checkout links it hands out.
    public var publicURL: String {
        get { publicBase.withLock { $0 } }
        set { publicBase.withLock { $0 = newValue } }
    }

    public func setWebhook(url: String, secret: String) { state.withLock { $0.webhook = (url, secret) } }

    // MARK: Routes

    func addRoutes(to router: Router<BasicRequestContext>) {
        let api = router.group("v1").add(middleware: SecretKeyMiddleware())
        api.post("customers") { request, context in
            let form = try await FormFields(request, context)
            let customer = self.state.withLock { state in
                let customer = Customer(
                    id: Self.newID("cus"),
                    email: form["email"],
                    name: form["name"],
                    created: Self.now,
                    currency: nil,
                    delinquent: false,
                    metadata: form.map("metadata")
                )
                state.customers[customer.id] = customer
                state.customerOrder.append(customer.id)
                return customer
            }
            return try stripeJSON(customer, object: "customer")
        }
        api.get("customers/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let customer = self.state.withLock({ $0.customers[id] }) else { throw missing("customer", id) }
            return try stripeJSON(customer, object: "customer")
        }
        api.get("customers") { request, _ in
            let customers = self.state.withLock { state in state.customerOrder.compactMap { state.customers[$0] } }
            return try stripeJSON(page(customers, request), object: "list")
        }
        api.post("prices") { request, context in
            let form = try await FormFields(request, context)
            let price = Price(
                id: Self.newID("price"),
                active: true,
                currency: try form.require("currency"),
                unitAmount: Int(try form.require("unit_amount")),
                recurring: form["recurring[interval]"].map { Recurring(interval: .init(rawValue: $0)) },
                product: form["product"].map { ExpandableID($0) },
                nickname: form["nickname"],
                metadata: form.map("metadata")
            )
            self.state.withLock { $0.prices[price.id] = price }
            return try stripeJSON(price, object: "price")
        }
        api.get("prices/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let price = self.state.withLock({ $0.prices[id] }) else { throw missing("price", id) }
            return try stripeJSON(price, object: "price")
        }
        api.post("checkout/sessions") { request, context in
            let form = try await FormFields(request, context)
            guard try form.require("mode") == "subscription" else { throw invalid("mode", "the sandbox only runs subscription checkouts") }
            let priceID = try form.require("line_items[0][price]")
            return try self.state.withLock { state in
                guard state.prices[priceID] != nil else { throw missing("price", priceID) }
                if let customer = form["customer"], state.customers[customer] == nil { throw missing("customer", customer) }
                let id = Self.newID("cs_test")
                let session = CheckoutSession(
                    id: id,
                    url: "\(self.publicURL)/checkout/\(id)",
                    mode: .subscription,
                    status: .open,
                    paymentStatus: "unpaid",
                    customer: form["customer"].map { ExpandableID($0) },
                    customerEmail: form["customer_email"],
                    clientReferenceID: form["client_reference_id"],
                    subscription: nil,
                    metadata: form.map("metadata"),
                    successURL: try form.require("success_url"),
                    cancelURL: form["cancel_url"],
                    created: Self.now
                )
                state.sessions[id] = session
                state.sessionPrices[id] = (priceID, Int(form["line_items[0][quantity]"] ?? "1") ?? 1, form.map("subscription_data[metadata]") ?? [:])
                return try stripeJSON(session, object: "checkout.session")
            }
        }
        api.get("checkout/sessions/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let session = self.state.withLock({ $0.sessions[id] }) else { throw missing("checkout.session", id) }
            return try stripeJSON(session, object: "checkout.session")
        }
        api.get("subscriptions/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let subscription = self.state.withLock({ $0.subscriptions[id] }) else { throw missing("subscription", id) }
            return try stripeJSON(subscription, object: "subscription")
        }
        api.post("subscriptions/:id") { request, context in
            let id = try context.parameters.require("id")
            let form = try await FormFields(request, context)
            let (subscription, previous) = try self.state.withLock { state in
                guard var subscription = state.subscriptions[id] else { throw missing("subscription", id) }
                var previous: [String: Any] = [:]
                if let priceID = form["items[0][price]"] {
                    guard let price = state.prices[priceID] else { throw missing("price", priceID) }
                    previous["items"] = ["price": subscription.items.data.first?.price.id ?? ""]
                    subscription.items.data[0].price = price
                }
                if let cancel = form["cancel_at_period_end"] {
                    previous["cancel_at_period_end"] = subscription.cancelAtPeriodEnd ?? false
                    subscription.cancelAtPeriodEnd = cancel == "true"
                }
                if let metadata = form.map("metadata") { subscription.metadata = (subscription.metadata ?? [:]).merging(metadata) { $1 } }
                state.subscriptions[id] = subscription
                return (subscription, previous)
            }
            await self.emit("customer.subscription.updated", subscription, object: "subscription", previousAttributes: previous)
            return try stripeJSON(subscription, object: "subscription")
        }
        api.delete("subscriptions/:id") { _, context in
            let id = try context.parameters.require("id")
            let subscription = try self.state.withLock { state in
                guard var subscription = state.subscriptions[id] else { throw missing("subscription", id) }
                subscription.status = .canceled
                subscription.canceledAt = Self.now
                subscription.endedAt = Self.now
                state.subscriptions[id] = subscription
                return subscription
            }
            await self.emit("customer.subscription.deleted", subscription, object: "subscription")
            return try stripeJSON(subscription, object: "subscription")
        }

        // The hosted checkout page: visiting it (or POSTing to it) pays and completes the session.
        router.get("checkout/:id") { _, context in try await self.complete(try context.parameters.require("id")) }
        router.post("checkout/:id") { _, context in try await self.complete(try context.parameters.require("id")) }

        router.get("_sandbox/stripe/events") { _, _ in try jsonResponse(self.sentEvents) }
        router.post("_sandbox/stripe/events/:id/resend") { _, context in
            let id = try context.parameters.require("id")
            guard let event = self.state.withLock({ $0.events.first { $0.id == id } }) else { throw missing("event", id) }
            let status = await self.deliver(event)
            return try jsonResponse(["status": status])
        }
    }

    /// Completes a checkout: the customer (created from the email when the session has none), an active
    /// subscription, a paid first invoice, and the events Stripe sends for them, delivered before answering.
    func complete(_ sessionID: String) async throws -> Response {
        let (session, subscription, invoice) = try state.withLock { state in
            guard var session = state.sessions[sessionID], let line = state.sessionPrices[sessionID], let price = state.prices[line.price] else {
                throw missing("checkout.session", sessionID)
            }
            guard session.status == .open else {
                throw invalid("session", "this checkout session is already \(session.status?.rawValue ?? "closed")")
            }
            let customerID: String
            if let existing = session.customer?.id {
                customerID = existing
            } else {
                let customer = Customer(id: Self.newID("cus"), email: session.customerEmail, name: nil, created: Self.now, metadata: [:])
                state.customers[customer.id] = customer
                state.customerOrder.append(customer.id)
                customerID = customer.id
            }
            let start = Self.now
            let end = Self.add(price.recurring?.interval ?? .month, to: start)
            let subscription = Subscription(
                id: Self.newID("sub"),
                customer: ExpandableID(customerID),
                status: .active,
                created: start,
                startDate: start,
                cancelAtPeriodEnd: false,
                currency: price.currency,
                items: StripeList(data: [
                    SubscriptionItem(id: Self.newID("si"), price: price, quantity: line.quantity, currentPeriodStart: start, currentPeriodEnd: end)
                ]),
                metadata: line.subscriptionMetadata
            )
            let amount = (price.unitAmount ?? 0) * line.quantity
            let invoice = Invoice(
                id: Self.newID("in"),
                customer: ExpandableID(customerID),
                customerEmail: session.customerEmail,
                status: .paid,
                currency: price.currency,
                amountDue: amount,
                amountPaid: amount,
                subtotal: amount,
                total: amount,
                created: start,
                periodStart: start,
                periodEnd: end,
                billingReason: "subscription_create",
                lines: StripeList(data: [
                    InvoiceLine(
                        id: Self.newID("il"),
                        amount: amount,
                        currency: price.currency,
                        description: price.nickname,
                        quantity: line.quantity,
                        period: Period(start: start, end: end),
                        pricing: .init(priceDetails: .init(price: ExpandableID(price.id)))
                    )
                ]),
                parent: .init(subscriptionDetails: .init(subscription: ExpandableID(subscription.id))),
                statusTransitions: .init(paidAt: start)
            )
            session.status = .complete
            session.paymentStatus = "paid"
            session.customer = ExpandableID(customerID)
            session.subscription = ExpandableID(subscription.id)
            state.sessions[sessionID] = session
            state.subscriptions[subscription.id] = subscription
            state.invoices[invoice.id] = invoice
            return (session, subscription, invoice)
        }
        await emit("customer.subscription.created", subscription, object: "subscription")
        await emit("checkout.session.completed", session, object: "checkout.session")
        await emit("invoice.payment_succeeded", invoice, object: "invoice")
        return Response(status: .seeOther, headers: [.location: session.successURL ?? publicURL])
    }

    // MARK: Events

    func emit(_ type: String, _ object: some Encodable, object objectType: String, previousAttributes: [String: Any]? = nil) async {
        var data: [String: Any] = ["object": (try? stripeObject(object, object: objectType)) ?? [:]]
        if let previousAttributes, !previousAttributes.isEmpty { data["previous_attributes"] = previousAttributes }
        let envelope: [String: Any] = [
            "id": Self.newID("evt"), "object": "event", "api_version": StripeClient.apiVersion, "created": Self.now, "type": type,
            "livemode": false, "pending_webhooks": 1, "request": ["id": NSNull(), "idempotency_key": NSNull()], "data": data,
        ]
        let payload = String(decoding: (try? JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
        let event = SentEvent(id: envelope["id"] as! String, type: type, payload: payload, deliveries: [])
        state.withLock { $0.events.append(event) }
        _ = await deliver(event)
    }

    /// Sends the event, signed as Stripe signs it; returns the status (0 when nothing answered).
    func deliver(_ event: SentEvent) async -> Int {
        guard let webhook = state.withLock({ $0.webhook }) else { return 0 }
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.headers.add(
            name: "Stripe-Signature",
            value: StripeWebhookSignature.header(for: Data(event.payload.utf8), secret: webhook.secret, timestamp: Date())
        )
        request.body = .bytes(ByteBuffer(string: event.payload))
        let status: Int
        do {
            let response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1024 * 1024)
            status = Int(response.status.code)
        } catch {
            status = 0
        }
        state.withLock { state in
            if let index = state.events.firstIndex(where: { $0.id == event.id }) { state.events[index].deliveries.append(status) }
        }
        return status
    }

    // MARK: Helpers

    static var now: Int { Int(Date().timeIntervalSince1970) }

    static func newID(_ prefix: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return prefix + "_" + String((0..<24).map { _ in alphabet.randomElement()! })
    }

    static func add(_ interval: Recurring.Interval, to start: Int) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let component: Calendar.Component =
            switch interval {
            case .day: .day
            case .week: .weekOfYear
            case .year: .year
            default: .month
            }
        let date = calendar.date(byAdding: component, value: 1, to: Date(timeIntervalSince1970: TimeInterval(start)))!
        return Int(date.timeIntervalSince1970)
    }
}

/// Stripe refuses a request without a secret key.
struct SecretKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer sk_") else {
            return try stripeErrorResponse(401, type: "invalid_request_error", code: nil, message: "Invalid API Key provided")
        }
        return try await next(request, context)
    }
}

/// A Stripe error, thrown by a handler and turned into Stripe's error body.
struct StripeFakeError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String
    let param: String?

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try stripeErrorResponse(Int(status.code), type: "invalid_request_error", code: code, message: message, param: param)
    }
}

func missing(_ object: String, _ id: String) -> StripeFakeError {
    StripeFakeError(status: .notFound, code: "resource_missing", message: "No such \(object): '\(id)'", param: "id")
}

func invalid(_ param: String, _ message: String) -> StripeFakeError {
    StripeFakeError(status: .badRequest, code: "parameter_invalid", message: message, param: param)
}

func stripeErrorResponse(_ status: Int, type: String, code: String?, message: String, param: String? = nil) throws -> Response {
    var error: [String: String] = ["type": type, "message": message]
    error["code"] = code
    error["param"] = param
    return try jsonResponse(["error": error], status: .init(code: status))
}

func jsonResponse(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
}

/// The same for JSON built as dictionaries and arrays, as the providers' mixed-type bodies are.
func jsonObjectResponse(_ json: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    Response(
        status: status,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
    )
}

/// A model as Stripe's JSON, with its `object` name.
func stripeObject(_ value: some Encodable, object: String) throws -> [String: Any] {
    var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any] ?? [:]
    json["object"] = object
    return json
}

func stripeJSON(_ value: some Encodable, object: String) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: stripeObject(value, object: object), options: [.sortedKeys])
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// One page of a list, as Stripe pages: `limit` (10, at most 100) after `starting_after`. `positions` (id → index)
/// spares a scan of a long list.
func page<Item: Codable & Sendable & Identifiable>(_ items: [Item], _ request: Request, positions: [String: Int] = [:]) -> StripeList<Item>
where Item.ID == String {
    let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 10, 1), 100)
    var start = 0
    if let after = request.uri.queryParameters.get("starting_after"),
        let index = positions[after].flatMap({ items.indices.contains($0) && items[$0].id == after ? $0 : nil })
            ?? items.firstIndex(where: { $0.id == after })
    {
        start = index + 1
    }
    let slice = Array(items.dropFirst(start).prefix(limit))
    return StripeList(data: slice, hasMore: start + slice.count < items.count)
}

/// A form-encoded Stripe request body, bracketed keys kept as sent.
struct FormFields {
    let pairs: [(String, String)]

    init(_ request: Request, _ context: some RequestContext) async throws {
        var request = request
        let body = try await request.collectBody(upTo: 1024 * 1024)
        pairs = FormEncoding.decode(String(buffer: body))
    }

    subscript(key: String) -> String? { pairs.last { $0.0 == key }?.1 }

    func require(_ key: String) throws -> String {
        guard let value = self[key] else {
            throw StripeFakeError(status: .badRequest, code: "parameter_missing", message: "Missing required param: \(key).", param: key)
        }
        return value
    }

    /// `metadata[a]=1&metadata[b]=2` → `["a": "1", "b": "2"]`; nil when none was sent.
    func map(_ prefix: String) -> [String: String]? {
        let entries = pairs.compactMap { key, value -> (String, String)? in
            guard key.hasPrefix(prefix + "["), key.hasSuffix("]") else { return nil }
            let name = key.dropFirst(prefix.count + 1).dropLast()
            return name.contains("[") ? nil : (String(name), value)
        }
        return entries.isEmpty ? nil : Dictionary(entries, uniquingKeysWith: { $1 })
    }
}

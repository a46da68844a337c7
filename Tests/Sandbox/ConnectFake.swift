import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import ServiceKit
import StripeKit
import Synchronization

/// Stripe Connect's OAuth: an authorise page that approves at once and redirects with a code, the token exchange
/// (each code once), deauthorisation, and the connected accounts themselves.
public final class ConnectFake: Sendable {
    struct State {
        var accounts: [String: Account] = [:]
        /// code → account id; a code is removed when exchanged.
        var codes: [String: String] = [:]
        var deauthorized: [String] = []
        var data: [String: ConnectedAccountData] = [:]
        /// Each object's place in its list, by id, so that `starting_after` does not scan a large account's lists.
        var positions: [String: [String: Int]] = [:]
        /// Each account's events, oldest first.
        var events: [String: [AccountEvent]] = [:]
        /// Where the connected accounts' events are sent (Stripe's Connect webhook endpoint), and their signing secret.
        var webhook: (url: String, secret: String)?
        /// Each delivery's answer, by event id (0 when nothing answered).
        var deliveries: [String: [Int]] = [:]
    }

    private let state = Mutex(State())
    let http: HTTPClient?

    init(http: HTTPClient? = nil, webhookURL: String? = nil, webhookSecret: String? = nil) {
        self.http = http
        if let webhookURL, let webhookSecret { state.withLock { $0.webhook = (webhookURL, webhookSecret) } }
    }

    public func setWebhook(url: String, secret: String) { state.withLock { $0.webhook = (url, secret) } }

    /// The answers each delivery of the event got.
    public func deliveries(of eventID: String) -> [Int] { state.withLock { $0.deliveries[eventID] ?? [] } }

    /// Adds an account that the authorise page can hand out (`account=` in its query picks it).
    public func addAccount(id: String, name: String, currency: String) {
        state.withLock {
            $0.accounts[id] = Account(id: id, email: nil, country: "US", defaultCurrency: currency, businessProfile: .init(name: name))
        }
    }

    public var deauthorized: [String] { state.withLock { $0.deauthorized } }

    /// Gives an account its objects (the authorise page's `account=` then hands it out).
    public func setData(_ data: ConnectedAccountData, for account: String) {
        var positions: [String: Int] = [:]
        for ids in [data.customers.map(\.id), data.subscriptions.map(\.id), data.invoices.map(\.id), data.charges.map(\.id)] {
            for (index, id) in ids.enumerated() { positions[id] = index }
        }
        state.withLock {
            $0.data[account] = data
            $0.positions[account] = positions
        }
    }

    /// Records an event on the account, as Stripe does when its data changes (`object` is what `data.object` holds,
    /// `previous` what an update replaced). Events are kept in the order recorded, so record them oldest first.
    @discardableResult
    public func record(
        event type: String,
        object: some Encodable,
        named name: String,
        previous: [String: JSONValue]? = nil,
        at moment: Date = Date(),
        for account: String
    ) throws -> AccountEvent {
        let json = try JSONDecoder().decode(JSONValue.self, from: JSONSerialization.data(withJSONObject: stripeObject(object, object: name)))
        return state.withLock { state in
            // Unique across sandboxes, as Stripe's ids are: receivers remember event ids.
            let event = AccountEvent(
                id: StripeFake.newID("evt"),
                account: account,
                type: type,
                created: Int(moment.timeIntervalSince1970),
                data: .init(object: json, previousAttributes: previous.map(JSONValue.object))
            )
            state.events[account, default: []].append(event)
            return event
        }
    }

    /// Sends an event (again, for a test of duplicates or order) to the Connect webhook endpoint, signed as Stripe
    /// signs; returns the answer's status (0 when nothing answered or no endpoint is set).
    @discardableResult
    public func deliver(_ event: AccountEvent) async -> Int {
        guard let http, let webhook = state.withLock({ $0.webhook }), let payload = try? JSONEncoder().encode(event) else { return 0 }
        var request = HTTPClientRequest(url: webhook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        request.headers.add(name: "Stripe-Signature", value: StripeWebhookSignature.header(for: payload, secret: webhook.secret, timestamp: Date()))
        request.body = .bytes(ByteBuffer(data: payload))
        var status = 0
        if let response = try? await http.execute(request, timeout: .seconds(30)) {
            _ = try? await response.body.collect(upTo: 1024 * 1024)
            status = Int(response.status.code)
        }
        state.withLock { $0.deliveries[event.id, default: []].append(status) }
        return status
    }

    /// Changes a subscription of a connected account as a dashboard user would, and sends the
    /// `customer.subscription.updated` event Stripe would, with what the change replaced in `previous_attributes`.
    @discardableResult
    public func updateSubscription(
        _ id: String,
        of account: String,
        _ change: (inout Subscription) -> Void
    ) async throws -> Int {
        let updated: (Subscription, [String: JSONValue])? = state.withLock { state in
            guard var data = state.data[account], let index = data.subscriptions.firstIndex(where: { $0.id == id }) else { return nil }
            let before = data.subscriptions[index]
            change(&data.subscriptions[index])
            let after = data.subscriptions[index]
            state.data[account] = data
            var previous: [String: JSONValue] = [:]
            if before.status != after.status { previous["status"] = .string(before.status.rawValue) }
            if before.items.data.map(\.price.id) != after.items.data.map(\.price.id)
                || before.items.data.map(\.quantity) != after.items.data.map(\.quantity)
            {
                previous["items"] = (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(before.items))) ?? .null
            }
            return (after, previous)
        }
        guard let (subscription, previous) = updated else { throw missing("subscription", id) }
        return await deliver(
            try record(event: "customer.subscription.updated", object: subscription, named: "subscription", previous: previous, for: account)
        )
    }

    func events(for account: String) -> [AccountEvent] { state.withLock { $0.events[account] ?? [] } }

    func data(for account: String) -> (data: ConnectedAccountData, positions: [String: Int])? {
        state.withLock { state in state.data[account].map { ($0, state.positions[account] ?? [:]) } }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("oauth/authorize") { request, _ in
            let query = request.uri.queryParameters
            guard let redirect = query.get("redirect_uri"), let state = query.get("state"), query.get("client_id")?.hasPrefix("ca_") == true else {
                return try jsonResponse(["error": "invalid_request"], status: .badRequest)
            }
            let code = StripeFake.newID("ac")
            let id = query.get("account") ?? StripeFake.newID("acct")
            let isNew = self.state.withLock { state in
                state.codes[code] = id
                guard state.accounts[id] == nil else { return false }
                state.accounts[id] = Account(
                    id: id,
                    country: "US",
                    defaultCurrency: "usd",
                    businessProfile: .init(name: "Sandbox Business \(id.suffix(6))")
                )
                return true
            }
            // An account the page makes up comes with a small business's worth of data, so that `make run` has
            // metrics to show once the first sync is done.
            if isNew, self.data(for: id) == nil {
                self.setData(.business(customers: 200, seed: id.utf8.reduce(UInt64(7)) { $0 &* 31 &+ UInt64($1) }), for: id)
            }
            let separator = redirect.contains("?") ? "&" : "?"
            let encodedState = state.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? state
            return Response(status: .found, headers: [.location: "\(redirect)\(separator)code=\(code)&state=\(encodedState)&scope=read_only"])
        }
        let oauth = router.group("oauth").add(middleware: SecretKeyMiddleware())
        oauth.post("token") { request, context in
            let form = try await FormFields(request, context)
            guard form["grant_type"] == "authorization_code", let code = form["code"],
                let account = self.state.withLock({ $0.codes.removeValue(forKey: code) })
            else {
                return try jsonResponse(
                    ["error": "invalid_grant", "error_description": "Authorization code does not exist or was already used"],
                    status: .badRequest
                )
            }
            return try jsonResponse(TokenResponse(accessToken: "sk_test_connected_\(account)", refreshToken: "rt_\(account)", stripeUserID: account))
        }
        oauth.post("deauthorize") { request, context in
            let form = try await FormFields(request, context)
            let account = try form.require("stripe_user_id")
            self.state.withLock { $0.deauthorized.append(account) }
            return try jsonResponse(["stripe_user_id": account])
        }
        // A change made as a dashboard user would make it: `{"status": "past_due", "quantity": 3, "unit_amount": 4900}`
        // changes the subscription (its first item) and sends the signed Connect event.
        router.post("_sandbox/connect/accounts/:account/subscriptions/:id") { request, context in
            let change = try await request.decode(as: SubscriptionChange.self, context: context)
            let statuses = ["active", "past_due", "unpaid", "canceled", "incomplete", "incomplete_expired", "trialing", "paused"]
            if let status = change.status, !statuses.contains(status) {
                throw HTTPError(.badRequest, message: "unknown status \(status)")
            }
            let delivered = try await self.updateSubscription(
                try context.parameters.require("id"),
                of: try context.parameters.require("account")
            ) { subscription in
                if let status = change.status { subscription.status = Subscription.Status(rawValue: status) }
                guard !subscription.items.data.isEmpty else { return }
                if let quantity = change.quantity { subscription.items.data[0].quantity = quantity }
                if let amount = change.unitAmount {
                    var price = subscription.items.data[0].price
                    price.id = "price_\(amount)_\(price.recurring?.interval.rawValue ?? "once")"
                    price.unitAmount = amount
                    price.unitAmountDecimal = nil
                    subscription.items.data[0].price = price
                }
            }
            return try jsonResponse(["delivered": delivered])
        }
        router.group("v1").add(middleware: SecretKeyMiddleware()).get("accounts/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let account = self.state.withLock({ $0.accounts[id] }) else { throw missing("account", id) }
            return try stripeJSON(account, object: "account")
        }
    }
}

/// What `POST /_sandbox/connect/accounts/{account}/subscriptions/{id}` changes.
struct SubscriptionChange: Decodable {
    var status: String?
    var quantity: Int?
    var unitAmount: Int?

    enum CodingKeys: String, CodingKey {
        case status, quantity
        case unitAmount = "unit_amount"
    }
}

/// Connect's token endpoint answer.
struct TokenResponse: Encodable {
    var accessToken: String
    var refreshToken: String
    var stripeUserID: String
    var scope = "read_only"
    var tokenType = "bearer"
    var livemode = false

    enum CodingKeys: String, CodingKey {
        case scope, livemode
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case stripeUserID = "stripe_user_id"
        case tokenType = "token_type"
    }
}

/// An event on a connected account, as `/v1/events` lists it.
public struct AccountEvent: Codable, Sendable, Identifiable {
    struct Payload: Codable, Sendable {
        var object: JSONValue
        var previousAttributes: JSONValue?

        enum CodingKeys: String, CodingKey {
            case object
            case previousAttributes = "previous_attributes"
        }
    }
    public var id: String
    var object = "event"
    /// The connected account it happened on, as Connect events name it.
    var account: String
    var apiVersion = StripeClient.apiVersion
    var livemode = false
    var type: String
    var created: Int
    var data: Payload

    init(id: String, account: String, type: String, created: Int, data: Payload) {
        self.id = id
        self.account = account
        self.type = type
        self.created = created
        self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case id, object, account, livemode, type, created, data
        case apiVersion = "api_version"
    }
}

/// A connected account's Stripe data: customers, their subscriptions, invoices and charges, the same for the same
/// seed. Served for requests that carry `Stripe-Account`.
public struct ConnectedAccountData: Sendable {
    public var customers: [Customer] = []
    public var subscriptions: [Subscription] = []
    public var invoices: [Invoice] = []
    public var charges: [Charge] = []
    /// Prices `/v1/prices/{id}` answers beyond those on subscriptions and invoice lines (an old plan nobody is on).
    public var prices: [Price] = []

    /// A price by id: one of `prices`, or one a subscription item or invoice line carries.
    func price(_ id: String) -> Price? {
        prices.first { $0.id == id }
            ?? subscriptions.lazy.flatMap(\.items.data).first { $0.price.id == id }?.price
            ?? invoices.lazy.flatMap(\.lines.data).compactMap(\.price).first { $0.id == id }
    }

    public init() {}

    /// `customers` customers with `subscriptions` monthly subscriptions between them (one each by default, a few
    /// canceled), and `invoices` paid invoices spread over the subscriptions (one each by default), each with its charge.
    public static func generate(
        customers count: Int,
        subscriptions subscriptionCount: Int? = nil,
        invoices invoiceCount: Int? = nil,
        seed: UInt64,
        now: Date = Date()
    ) -> ConnectedAccountData {
        var data = ConnectedAccountData()
        var random = SeededRandom(seed: seed)
        let created = Int(now.timeIntervalSince1970) - 90 * 86_400
        let subscriptionCount = subscriptionCount ?? count
        let invoiceCount = invoiceCount ?? subscriptionCount
        data.customers = (0..<count).map { Customer(id: String(format: "cus_%08d", $0), email: "customer\($0)@example.com", created: created + $0) }
        var amounts: [Int] = []
        for index in 0..<subscriptionCount {
            let customerID = String(format: "cus_%08d", index % max(count, 1))
            let amount = [2_900, 9_900, 29_900][random.next(3)]
            amounts.append(amount)
            let price = Price(id: "price_\(amount)", currency: "usd", unitAmount: amount, recurring: Recurring(interval: .month))
            let canceled = random.next(10) == 0
            data.subscriptions.append(
                Subscription(
                    id: String(format: "sub_%08d", index),
                    customer: ExpandableID(customerID),
                    status: canceled ? .canceled : .active,
                    created: created + index,
                    canceledAt: canceled ? created + 30 * 86_400 : nil,
                    currency: "usd",
                    items: StripeList(data: [SubscriptionItem(id: String(format: "si_%08d", index), price: price, quantity: 1)])
                )
            )
        }
        for index in 0..<invoiceCount {
            let subscription = index % max(subscriptionCount, 1)
            let customerID = String(format: "cus_%08d", subscription % max(count, 1))
            let amount = amounts[subscription]
            // Later rounds of invoices are a day apart, so every invoice lies in the past.
            let day = created + subscription + (index / max(subscriptionCount, 1)) * 86_400
            data.invoices.append(
                Invoice(
                    id: String(format: "in_%08d", index),
                    customer: ExpandableID(customerID),
                    status: .paid,
                    currency: "usd",
                    amountDue: amount,
                    amountPaid: amount,
                    created: day,
                    lines: StripeList(data: [InvoiceLine(id: String(format: "il_%08d", index), amount: amount, currency: "usd")]),
                    subscription: ExpandableID(String(format: "sub_%08d", subscription))
                )
            )
            data.charges.append(
                Charge(
                    id: String(format: "ch_%08d", index),
                    amount: amount,
                    amountRefunded: 0,
                    currency: "usd",
                    customer: ExpandableID(customerID),
                    created: day,
                    status: .succeeded,
                    invoice: ExpandableID(String(format: "in_%08d", index))
                )
            )
        }
        return data
    }
}

/// Lists of a connected account's objects, for requests that name the account in `Stripe-Account`.
struct ConnectedAccountMiddleware<Context: RequestContext>: RouterMiddleware {
    let connect: ConnectFake

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get, let account = request.headers[HTTPField.Name("Stripe-Account")!],
            let (data, positions) = connect.data(for: account)
        else { return try await next(request, context) }
        let path = request.uri.path
        let expanded = request.uri.query?.removingPercentEncoding ?? ""
        switch path {
        case "/v1/customers": return try jsonResponse(page(data.customers, request, positions: positions))
        case "/v1/subscriptions":
            var subscriptions = page(data.subscriptions, request, positions: positions)
            subscriptions.data = subscriptions.data.map {
                Self.asListed(
                    $0,
                    expandDiscounts: expanded.contains("data.discounts"),
                    expandItemDiscounts: expanded.contains("data.items.data.discounts")
                )
            }
            return try jsonResponse(subscriptions)
        case "/v1/subscription_items":
            let items = data.subscriptions.first { $0.id == request.uri.queryParameters.get("subscription") }?.items.data ?? []
            return try jsonResponse(page(items, request))
        case "/v1/invoices":
            var invoices = page(data.invoices, request, positions: positions)
            for index in invoices.data.indices { invoices.data[index].lines = Self.embedded(invoices.data[index].lines) }
            return try jsonResponse(invoices)
        case "/v1/charges": return try jsonResponse(page(data.charges, request, positions: positions))
        case "/v1/events": return try jsonResponse(page(Self.filtered(connect.events(for: account).reversed(), request), request))
        case _ where path.hasPrefix("/v1/subscriptions/"):
            guard let subscription = Self.find(data.subscriptions, id: path.dropFirst("/v1/subscriptions/".count), positions) else {
                return try Self.missing(path)
            }
            return try jsonResponse(
                Self.asListed(
                    subscription,
                    expandDiscounts: expanded.contains("discounts"),
                    expandItemDiscounts: expanded.contains("items.data.discounts")
                )
            )
        case _ where path.hasPrefix("/v1/customers/"):
            let id = path.dropFirst("/v1/customers/".count)
            guard let customer = Self.find(data.customers, id: id, positions) else { return try Self.missing(path) }
            // A deleted customer is a stub, as Stripe answers it.
            if customer.deleted == true {
                return try jsonResponse(JSONValue.object(["id": .string(customer.id), "object": "customer", "deleted": .bool(true)]))
            }
            return try jsonResponse(customer)
        case _ where path.hasPrefix("/v1/invoices/") && !path.hasSuffix("/lines"):
            guard var invoice = Self.find(data.invoices, id: path.dropFirst("/v1/invoices/".count), positions) else { return try Self.missing(path) }
            invoice.lines = Self.embedded(invoice.lines)
            return try jsonResponse(invoice)
        case _ where path.hasPrefix("/v1/invoices/") && path.hasSuffix("/lines"):
            guard let invoice = Self.find(data.invoices, id: path.dropFirst("/v1/invoices/".count).dropLast("/lines".count), positions) else {
                return try Self.missing(path)
            }
            return try jsonResponse(page(invoice.lines.data, request))
        case _ where path.hasPrefix("/v1/prices/"):
            guard var price = data.price(String(path.dropFirst("/v1/prices/".count))) else { return try Self.missing(path) }
            if !expanded.contains("tiers") { price.tiers = nil }
            return try jsonResponse(price)
        case _ where path.hasPrefix("/v1/charges/"):
            guard let charge = Self.find(data.charges, id: path.dropFirst("/v1/charges/".count), positions) else { return try Self.missing(path) }
            return try jsonResponse(charge)
        default: return try await next(request, context)
        }
    }

    /// A subscription as Stripe shows it: its embedded items, their prices without tiers (Stripe includes them only
    /// on `/v1/prices` with `expand[]=tiers`), discounts as ids unless expanded.
    /// Events as `/v1/events` filters them: `type` (a trailing `*` matches a group, `customer.subscription.*`) and
    /// `created[gte]`.
    static func filtered(_ events: [AccountEvent], _ request: Request) -> [AccountEvent] {
        let parameters = request.uri.queryParameters
        let type = parameters.get("type")
        let since = parameters.get("created[gte]", as: Int.self) ?? .min
        return events.filter { event in
            guard event.created >= since, let type else { return event.created >= since }
            return type.hasSuffix("*") ? event.type.hasPrefix(type.dropLast()) : event.type == type
        }
    }

    static func asListed(_ subscription: Subscription, expandDiscounts: Bool, expandItemDiscounts: Bool) -> Subscription {
        var listed = subscription
        if !expandDiscounts { listed.discounts = listed.discounts.map(asIDs) }
        for index in listed.items.data.indices {
            listed.items.data[index].price.tiers = nil
            if !expandItemDiscounts { listed.items.data[index].discounts = listed.items.data[index].discounts.map(asIDs) }
        }
        listed.items = embedded(listed.items)
        return listed
    }

    /// Discounts as Stripe sends them unless expanded: their ids.
    static func asIDs(_ discounts: [Expandable<CouponDiscount>]) -> [Expandable<CouponDiscount>] {
        discounts.map { discount in discount.object.map { .id($0.id) } ?? discount }
    }

    /// What Stripe embeds of a nested list: its first 10 entries, and whether there are more.
    static func embedded<Element>(_ list: StripeList<Element>) -> StripeList<Element> {
        list.data.count > 10 ? StripeList(data: Array(list.data.prefix(10)), hasMore: true) : list
    }

    /// One object of a list by its id, from the account's positions.
    static func find<Item: Identifiable>(_ items: [Item], id: Substring, _ positions: [String: Int]) -> Item? where Item.ID == String {
        positions[String(id)].flatMap { items.indices.contains($0) && items[$0].id == id ? items[$0] : nil }
    }

    static func missing(_ path: String) throws -> Response {
        try jsonResponse(
            ["error": ["type": "invalid_request_error", "code": "resource_missing", "message": "No such object: \(path)"]],
            status: .notFound
        )
    }
}

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceKit

/// Stripe's error object (`{"error": {"type", "code", "message", …}}`) with the HTTP status it came with.
public struct StripeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var code: String?
    public var message: String?
    public var param: String?
    public var declineCode: String?
    public var requestID: String?

    public var description: String {
        "Stripe \(status) \(type)\(code.map { "/\($0)" } ?? ""): \(message ?? "no message")"
    }

    struct Body: Decodable {
        struct Object: Decodable {
            let type: String?
            let code: String?
            let message: String?
            let param: String?
            let declineCode: String?

            enum CodingKeys: String, CodingKey {
                case type, code, message, param
                case declineCode = "decline_code"
            }
        }
        let error: Object
    }

    /// Connect's OAuth endpoints answer `{"error": "invalid_grant", "error_description": "…"}` instead.
    struct OAuthBody: Decodable {
        let error: String
        let errorDescription: String?
        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }

    init(status: Int, body: ByteBuffer, requestID: String?) {
        if let oauth = try? JSONDecoder().decode(OAuthBody.self, from: body) {
            self.status = status
            self.type = "oauth_error"
            self.code = oauth.error
            self.message = oauth.errorDescription
            self.requestID = requestID
            return
        }
        let object = try? JSONDecoder().decode(Body.self, from: body).error
        self.status = status
        self.type = object?.type ?? (status >= 500 ? "api_error" : "invalid_request_error")
        self.code = object?.code
        self.message = object?.message ?? (object == nil ? "unreadable error body: \(String(buffer: body).prefix(200))" : nil)
        self.param = object?.param
        self.declineCode = object?.declineCode
        self.requestID = requestID
    }
}

/// Stripe could not be reached, after every retry.
public struct StripeConnectionError: Error, CustomStringConvertible {
    public let underlying: any Error
    public var description: String { "Stripe could not be reached: \(underlying)" }
}

/// When to retry a Stripe request and how long to wait, as Stripe's own libraries decide it.
public struct StripeRetryPolicy: Sendable {
    public var maxRetries = 3
    public var backoff = RetryPolicy(maxRetries: 3, baseDelay: .milliseconds(500), maxDelay: .seconds(5))
    /// A `Retry-After` longer than this is not waited for (the retry then uses the normal backoff).
    public var maxRetryAfter: Duration = .seconds(60)

    public init() {}

    /// `status` is nil when no response arrived (a connection error).
    public func shouldRetry(retriesSoFar: Int, status: Int?, shouldRetryHeader: String?) -> Bool {
        guard retriesSoFar < maxRetries else { return false }
        switch shouldRetryHeader {
        case "true": return true
        case "false": return false
        default: break
        }
        guard let status else { return true }
        return status == 409 || status == 429 || status >= 500
    }

    /// Exponential from 0.5 s to 5 s, jittered into its upper half, never below 0.5 s; a sane `Retry-After` wins
    /// when it is longer.
    public func delay(forRetry retry: Int, retryAfter: String?, unitRandom: Double) -> Duration {
        let ceiling = backoff.ceiling(forRetry: retry)
        var delay = ceiling * (0.5 * (1 + min(max(unitRandom, 0), 1)))
        if delay < backoff.baseDelay { delay = backoff.baseDelay }
        if let seconds = retryAfter.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }), seconds >= 0 {
            let requested = Duration.seconds(seconds)
            if requested <= maxRetryAfter, requested > delay { delay = requested }
        }
        return delay
    }
}

/// A Stripe REST client: form-encoded requests, a pinned API version, an idempotency key on every POST (the same
/// on each retry), `Stripe-Account` for Connect, retries as Stripe's libraries do them.
public struct StripeClient: Sendable {
    /// The API version every request asks for, so Stripe's answers keep the shape our models read.
    public static let apiVersion = "2025-08-27.basil"
    public static let defaultAPIBase = "https://api.stripe.com"

    public let http: HTTPClient
    public let secretKey: String
    public let apiBase: String
    public var retry = StripeRetryPolicy()
    public var timeout: Duration = .seconds(30)
    /// Paces the requests made for each connected account (`Stripe-Account`), retries included.
    public var rateLimiter: RequestRateLimiter?
    public var logger: Logger

    public init(http: HTTPClient, secretKey: String, apiBase: String = defaultAPIBase, logger: Logger = Logger(label: "stripe")) {
        self.http = http
        self.secretKey = secretKey
        self.apiBase = apiBase.hasSuffix("/") ? String(apiBase.dropLast()) : apiBase
        self.logger = logger
    }

    public func get<Value: Decodable>(_ path: String, query: FormParameters = [], account: String? = nil, as type: Value.Type = Value.self)
        async throws -> Value
    {
        try await send(.GET, path, parameters: query, account: account, idempotencyKey: nil)
    }

    /// `idempotencyKey` defaults to a fresh one; pass a key derived from the caller's own request to make a
    /// repeated call (after a crash, say) return Stripe's first answer.
    public func post<Value: Decodable>(
        _ path: String,
        _ form: FormParameters = [],
        account: String? = nil,
        idempotencyKey: String? = nil,
        as type: Value.Type = Value.self
    ) async throws -> Value {
        try await send(.POST, path, parameters: form, account: account, idempotencyKey: idempotencyKey ?? UUID().uuidString)
    }

    public func delete<Value: Decodable>(_ path: String, account: String? = nil, as type: Value.Type = Value.self) async throws -> Value {
        try await send(.DELETE, path, parameters: [], account: account, idempotencyKey: nil)
    }

    /// Every page of a list endpoint, fetched as the caller iterates; after `startingAfter` when resuming.
    public func list<Item: Codable & Sendable>(
        _ path: String,
        query: FormParameters = [],
        account: String? = nil,
        pageSize: Int = 100,
        startingAfter: String? = nil,
        of type: Item.Type = Item.self
    ) -> StripePages<Item> where Item: Identifiable, Item.ID == String {
        StripePages(client: self, path: path, query: query, account: account, pageSize: pageSize, startingAfter: startingAfter)
    }

    func send<Value: Decodable>(_ method: HTTPMethod, _ path: String, parameters: FormParameters, account: String?, idempotencyKey: String?)
        async throws -> Value
    {
        let encoded = FormEncoding.encode(parameters)
        var url = apiBase + path
        if method != .POST, !encoded.isEmpty { url += (path.contains("?") ? "&" : "?") + encoded }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(secretKey)")
        request.headers.add(name: "Stripe-Version", value: Self.apiVersion)
        request.headers.add(name: "User-Agent", value: "Revmesh/1 StripeKit")
        if let account { request.headers.add(name: "Stripe-Account", value: account) }
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if method == .POST {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: encoded))
        }

        var retries = 0
        while true {
            let status: Int?
            var shouldRetryHeader: String?
            var retryAfter: String?
            do {
                if let account, let rateLimiter { try await rateLimiter.acquire(account) }
                let response = try await http.execute(request, timeout: TimeAmount(timeout))
                let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
                if (200..<300).contains(response.status.code) {
                    return try JSONDecoder().decode(Value.self, from: body)
                }
                let error = StripeError(status: Int(response.status.code), body: body, requestID: response.headers.first(name: "Request-Id"))
                status = Int(response.status.code)
                shouldRetryHeader = response.headers.first(name: "Stripe-Should-Retry")
                retryAfter = response.headers.first(name: "Retry-After")
                guard retry.shouldRetry(retriesSoFar: retries, status: status, shouldRetryHeader: shouldRetryHeader) else { throw error }
                logger.warning("retrying Stripe request", metadata: ["path": .string(path), "status": "\(response.status.code)"])
            } catch let error as StripeError {
                throw error
            } catch let error as DecodingError {
                throw error
            } catch let error as CancellationError {
                throw error
            } catch {
                guard retry.shouldRetry(retriesSoFar: retries, status: nil, shouldRetryHeader: nil) else { throw StripeConnectionError(underlying: error) }
                logger.warning("retrying Stripe request", metadata: ["path": .string(path), "error": .string(String(describing: error))])
            }
            try await Task.sleep(for: retry.delay(forRetry: retries, retryAfter: retryAfter, unitRandom: Double.random(in: 0...1)))
            retries += 1
        }
    }
}

/// The pages of a Stripe list, one request per page, following `starting_after` while `has_more`.
public struct StripePages<Item: Codable & Sendable>: AsyncSequence, Sendable where Item: Identifiable, Item.ID == String {
    let client: StripeClient
    let path: String
    let query: FormParameters
    let account: String?
    let pageSize: Int
    let startingAfter: String?

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pages: StripePages
        var cursor: String?
        var finished = false

        public mutating func next() async throws -> [Item]? {
            guard !finished else { return nil }
            var query = pages.query + [("limit", .string(String(pages.pageSize)))]
            if let cursor { query.append(("starting_after", .string(cursor))) }
            let page: StripeList<Item> = try await pages.client.get(pages.path, query: query, account: pages.account)
            cursor = page.data.last?.id
            finished = !page.hasMore || cursor == nil
            return page.data.isEmpty && finished ? nil : page.data
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self, cursor: startingAfter) }
}

/// Runs a Stripe call on behalf of an API request: Stripe refusing becomes 502 and Stripe being unreachable 503,
/// in the error envelope, instead of a bare 500.
public func mappingStripeErrors<Value>(_ call: () async throws -> Value) async throws -> Value {
    do {
        return try await call()
    } catch let error as StripeError {
        throw APIError(.badGateway, "stripe_error", "Stripe refused the request: \(error.message ?? error.type)")
    } catch is StripeConnectionError {
        throw APIError(.serviceUnavailable, "stripe_unavailable", "Stripe cannot be reached; try again shortly")
    }
}

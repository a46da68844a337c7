import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A failure the sandbox is told to produce for the next matching requests.
public struct Fault: Codable, Sendable, Equatable {
    /// Requests whose path starts with this are affected.
    public var pathPrefix: String
    /// Only this method, when set.
    public var method: String?
    /// Answer with this status (429, 500, …) instead of the real answer.
    public var status: Int?
    /// Sent with `status` as `Retry-After`, in seconds.
    public var retryAfter: Int?
    /// Sent with `status` as Stripe's `Stripe-Should-Retry`.
    public var stripeShouldRetry: Bool?
    /// Wait this long before answering (the real answer, or `status`).
    public var delayMilliseconds: Int?
    /// Close the connection instead of answering.
    public var drop: Bool?
    /// How many matching requests fail; then the fault is gone. Nil: until cleared.
    public var times: Int?
    /// Only every n-th matching request fails (the others pass), for a steady rate of failures.
    public var everyNth: Int?

    public init(
        pathPrefix: String,
        method: String? = nil,
        status: Int? = nil,
        retryAfter: Int? = nil,
        stripeShouldRetry: Bool? = nil,
        delayMilliseconds: Int? = nil,
        drop: Bool? = nil,
        times: Int? = 1,
        everyNth: Int? = nil
    ) {
        self.pathPrefix = pathPrefix
        self.method = method
        self.status = status
        self.retryAfter = retryAfter
        self.stripeShouldRetry = stripeShouldRetry
        self.delayMilliseconds = delayMilliseconds
        self.drop = drop
        self.times = times
        self.everyNth = everyNth
    }
}

/// One request as the sandbox saw it, for tests that count calls or check headers.
public struct RecordedRequest: Codable, Sendable {
    public var method: String
    public var path: String
    public var query: String?
    public var headers: [String: String]
    public var body: String
    /// The fault applied to it, if any.
    public var faulted: Bool
    /// When it arrived, so a test can measure the waits between a client's calls.
    public var receivedAt: Date

    /// A header by name, in any case.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// The faults in force and the requests seen, shared by every fake.
public final class FaultInjector: Sendable {
    private struct State {
        var faults: [Fault] = []
        /// Matching requests seen by each fault with `everyNth`, by its index.
        var matches: [Int: Int] = [:]
        var requests: [RecordedRequest] = []
    }
    private let state = Mutex(State())

    public init() {}

    public func add(_ fault: Fault) { state.withLock { $0.faults.append(fault) } }
    public func clear() { state.withLock { $0 = State() } }
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// The fault for this request, spending one of its `times`.
    func take(method: String, path: String) -> Fault? {
        state.withLock { state in
            guard let index = state.faults.firstIndex(where: { path.hasPrefix($0.pathPrefix) && ($0.method == nil || $0.method == method) }) else {
                return nil
            }
            let fault = state.faults[index]
            if let every = fault.everyNth {
                state.matches[index, default: 0] += 1
                guard state.matches[index]! % max(every, 1) == 0 else { return nil }
            }
            if let times = fault.times {
                if times <= 1 { state.faults.remove(at: index) } else { state.faults[index].times = times - 1 }
            }
            return fault
        }
    }

    func record(_ request: RecordedRequest) { state.withLock { $0.requests.append(request) } }
}

/// Records each request and applies the fault that matches it. `/_sandbox` itself is never faulted.
struct FaultMiddleware<Context: RequestContext>: RouterMiddleware {
    let faults: FaultInjector

    struct DroppedConnection: Error {}

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard !path.hasPrefix("/_sandbox") else { return try await next(request, context) }
        var request = request
        let body = try await request.collectBody(upTo: 16 * 1024 * 1024)
        let fault = faults.take(method: request.method.rawValue, path: path)
        faults.record(
            RecordedRequest(
                method: request.method.rawValue,
                path: path,
                query: request.uri.query?.removingPercentEncoding,
                headers: Dictionary(request.headers.map { ($0.name.canonicalName, $0.value) }, uniquingKeysWith: { first, _ in first }),
                body: String(buffer: body),
                faulted: fault != nil,
                receivedAt: Date()
            )
        )
        guard let fault else { return try await next(request, context) }
        if let delay = fault.delayMilliseconds { try await Task.sleep(for: .milliseconds(delay)) }
        if fault.drop == true {
            // Throwing from the body writer after the head makes the server close the connection mid-response.
            return Response(status: .ok, headers: [.contentLength: "1000"], body: ResponseBody { _ in throw DroppedConnection() })
        }
        guard let status = fault.status else { return try await next(request, context) }
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter = fault.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let shouldRetry = fault.stripeShouldRetry { headers[.stripeShouldRetry] = String(shouldRetry) }
        let error = #"{"error":{"type":"api_error","message":"sandbox fault: status \#(status)"}}"#
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: error)))
    }
}

extension HTTPField.Name {
    static let retryAfter = HTTPField.Name("Retry-After")!
    static let stripeShouldRetry = HTTPField.Name("Stripe-Should-Retry")!
}

extension Request {
    /// The token of an `Authorization: Bearer` header.
    var bearerToken: String? {
        headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
    }

    /// The query's parameters by name, decoded; the last of a repeated name wins.
    var queryValues: [String: String] {
        var query: [String: String] = [:]
        for (name, value) in uri.queryParameters { query[String(name)] = String(value).removingPercentEncoding ?? String(value) }
        return query
    }
}

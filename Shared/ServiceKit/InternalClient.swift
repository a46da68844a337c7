import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The one client for service-to-service calls: a per-call timeout, retries with backoff and jitter where a
/// retry is safe, the request id passed on and the calling service's identity attached.
public struct InternalClient: Sendable {
    public let http: HTTPClient
    let tokens: IdentityTokens
    let serviceName: String
    let retry: RetryPolicy
    static let maxResponseBytes = 16 * 1024 * 1024

    public init(http: HTTPClient, tokens: IdentityTokens, serviceName: String, retry: RetryPolicy = .internalCalls) {
        self.http = http
        self.tokens = tokens
        self.serviceName = serviceName
        self.retry = retry
    }

    public struct Call: Sendable {
        public var method: HTTPMethod
        public var url: String
        public var headers: HTTPHeaders
        public var body: ByteBuffer?
        public var timeout: Duration
        /// Safe to send twice: GET-like methods, or a write that carries an idempotency key.
        public var idempotent: Bool

        public init(
            _ method: HTTPMethod,
            _ url: String,
            headers: HTTPHeaders = [:],
            body: ByteBuffer? = nil,
            timeout: Duration = .seconds(5),
            idempotent: Bool? = nil
        ) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
            self.timeout = timeout
            self.idempotent = idempotent ?? ([.GET, .HEAD, .PUT, .DELETE, .OPTIONS].contains(method) || headers.contains(name: "Idempotency-Key"))
        }
    }

    public struct Reply: Sendable {
        public let status: HTTPResponseStatus
        public let headers: HTTPHeaders
        public let body: ByteBuffer

        public func decode<Value: Decodable>(_: Value.Type) throws -> Value {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(Value.self, from: body)
        }
    }

    /// The call could not be completed: nothing answered, or it answered too late.
    public struct Unreachable: Error, CustomStringConvertible {
        public let url: String
        public let underlying: any Error
        public var description: String { "\(url) could not be reached: \(underlying)" }
    }

    public func send(_ call: Call, requestID: String?, logger: Logger? = nil) async throws -> Reply {
        var retryNumber = 0
        while true {
            do {
                let reply = try await sendOnce(call, requestID: requestID)
                if call.idempotent, retryNumber < retry.maxRetries, [502, 503, 504].contains(reply.status.code) {
                    try await backOff(&retryNumber, call: call, reason: "status \(reply.status.code)", logger: logger)
                    continue
                }
                return reply
            } catch let error as CancellationError {
                throw error
            } catch {
                guard retryNumber < retry.maxRetries, call.idempotent || Self.neverReachedServer(error) else {
                    throw Unreachable(url: call.url, underlying: error)
                }
                try await backOff(&retryNumber, call: call, reason: String(describing: error), logger: logger)
            }
        }
    }

    public func get<Value: Decodable>(_ url: String, as type: Value.Type, requestID: String?, timeout: Duration = .seconds(5)) async throws -> (
        status: HTTPResponseStatus, value: Value?
    ) {
        let reply = try await send(Call(.GET, url, timeout: timeout), requestID: requestID)
        return (reply.status, reply.status.code < 300 ? try reply.decode(type) : nil)
    }

    private func sendOnce(_ call: Call, requestID: String?) async throws -> Reply {
        var request = HTTPClientRequest(url: call.url)
        request.method = call.method
        request.headers = call.headers
        let identity = Identity.service(serviceName, requestID: requestID)
        request.headers.replaceOrAdd(name: IdentityTokens.headerName, value: try await tokens.mint(identity, issuer: "service:\(serviceName)"))
        if let requestID { request.headers.replaceOrAdd(name: "X-Request-Id", value: requestID) }
        if let body = call.body {
            request.body = .bytes(body)
            if !request.headers.contains(name: "Content-Type") { request.headers.add(name: "Content-Type", value: "application/json") }
        }
        let response = try await http.execute(request, timeout: TimeAmount(call.timeout))
        let body = try await response.body.collect(upTo: Self.maxResponseBytes)
        return Reply(status: response.status, headers: response.headers, body: body)
    }

    private func backOff(_ retryNumber: inout Int, call: Call, reason: String, logger: Logger?) async throws {
        let delay = retry.delay(forRetry: retryNumber, unitRandom: Double.random(in: 0...1))
        logger?.warning("retrying internal call", metadata: ["url": .string(call.url), "reason": .string(reason), "retry": "\(retryNumber + 1)"])
        retryNumber += 1
        try await Task.sleep(for: delay)
    }

    /// Failures where the request cannot have reached the server, so even a non-idempotent call may be sent again.
    static func neverReachedServer(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError, error == .connectTimeout { return true }
        if error is NIOConnectionError { return true }
        if let error = error as? IOError, error.errnoCode == ECONNREFUSED { return true }
        return false
    }
}

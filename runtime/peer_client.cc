#include <utility>  // before Asio: Boost + GCC 12 + C++20 needs std::exchange declared first

#include "runtime/peer_client.h"

#include <boost/asio.hpp>
#include <deque>
#include <map>

#include <spdlog/spdlog.h>

#include "protocol/messages/api_keys.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"
#include "runtime/loop_thread.h"

namespace kb::runtime {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Largest answer accepted from a peer (a fetch of replicated data is bounded by
// replica.fetch.response.max.bytes; this guards against a peer sending garbage lengths).
constexpr int32_t kMaxResponseBytes = 256 << 20;

struct Pending {
  int16_t api_key;
  int16_t api_version;
  PeerClient::Callback done;
  std::shared_ptr<asio::steady_timer> timer;
};

// One connection to one node; everything runs on the client's thread. (In this file's
// unnamed namespace, so no other Connection class can clash with it.)
struct PeerConnection : std::enable_shared_from_this<PeerConnection> {
  PeerConnection(asio::io_context& ctx, int32_t node, PeerAddress address, std::string client_id)
      : socket(ctx), resolver(ctx), node(node), address(std::move(address)), client_id(std::move(client_id)) {}

  tcp::socket socket;
  tcp::resolver resolver;
  const int32_t node;
  const PeerAddress address;
  const std::string client_id;
  enum class State { Idle, Connecting, Ready, Failed } state = State::Idle;
  // Bumped by close(): completions of an earlier connection's operations find it changed and
  // do nothing (they must not close the next connection, nor touch its queue).
  uint64_t generation = 0;
  std::deque<std::vector<uint8_t>> out;  // frames not written yet
  bool writing = false;
  std::map<int32_t, Pending> in_flight;  // by correlation id
  int32_t next_correlation = 1;
  uint8_t size_buf[4];
  std::vector<uint8_t> body;

  void enqueue(int16_t api_key, int16_t api_version, std::vector<uint8_t> payload, int64_t timeout_ms,
               PeerClient::Callback done) {
    int32_t correlation = next_correlation++;
    msg::RequestHeader h;
    h.request_api_key = api_key;
    h.request_api_version = api_version;
    h.correlation_id = correlation;
    h.client_id = client_id;
    wire::Writer w;
    w.write_int32(0);  // size, patched below
    h.encode(w, msg::request_header_version(api_key, api_version));
    auto frame = std::move(w.buffer());
    frame.insert(frame.end(), payload.begin(), payload.end());
    uint32_t size = static_cast<uint32_t>(frame.size() - 4);
    frame[0] = static_cast<uint8_t>(size >> 24);
    frame[1] = static_cast<uint8_t>(size >> 16);
    frame[2] = static_cast<uint8_t>(size >> 8);
    frame[3] = static_cast<uint8_t>(size);
    auto timer = std::make_shared<asio::steady_timer>(socket.get_executor());
    timer->expires_after(std::chrono::milliseconds(timeout_ms));
    std::weak_ptr<PeerConnection> weak = shared_from_this();
    timer->async_wait([weak, correlation](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      // A timed-out request leaves the connection in an unknown state (its answer may still
      // come): drop the connection, as Kafka's NetworkClient does.
      self->fail_one(correlation, Error{ErrorCode::REQUEST_TIMED_OUT, "no answer from node " +
                                                                          std::to_string(self->node)});
      self->close(Error{ErrorCode::NETWORK_EXCEPTION, "connection reset after a timed-out request"});
    });
    in_flight.emplace(correlation, Pending{api_key, api_version, std::move(done), std::move(timer)});
    out.push_back(std::move(frame));
    if (state == State::Idle || state == State::Failed) connect();
    else if (state == State::Ready) write_next();
  }

  void connect() {
    state = State::Connecting;
    auto self = shared_from_this();
    const uint64_t gen = generation;
    resolver.async_resolve(
        address.host, std::to_string(address.port),
        [self, gen](const boost::system::error_code& ec, tcp::resolver::results_type results) {
          if (gen != self->generation) return;
          if (ec) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "cannot resolve " + self->address.host});
          asio::async_connect(self->socket, results, [self, gen](const boost::system::error_code& ec2, const tcp::endpoint&) {
            if (gen != self->generation) return;
            if (ec2)
              return self->close(Error{ErrorCode::NETWORK_EXCEPTION,
                                       "cannot connect to node " + std::to_string(self->node) + ": " + ec2.message()});
            boost::system::error_code ignore;
            self->socket.set_option(tcp::no_delay(true), ignore);
            self->state = State::Ready;
            self->read_size();
            self->write_next();
          });
        });
  }

  void write_next() {
    if (writing || out.empty() || state != State::Ready) return;
    writing = true;
    // The frame is owned by the write in progress: a close() meanwhile cannot free it.
    auto frame = std::make_shared<std::vector<uint8_t>>(std::move(out.front()));
    out.pop_front();
    auto self = shared_from_this();
    const uint64_t gen = generation;
    asio::async_write(socket, asio::buffer(*frame), [self, gen, frame](const boost::system::error_code& ec, size_t) {
      if (gen != self->generation) return;
      self->writing = false;
      if (ec) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "write to node " + std::to_string(self->node) +
                                                                         " failed: " + ec.message()});
      self->write_next();
    });
  }

  void read_size() {
    auto self = shared_from_this();
    const uint64_t gen = generation;
    asio::async_read(socket, asio::buffer(size_buf), [self, gen](const boost::system::error_code& ec, size_t) {
      if (gen != self->generation) return;
      if (ec) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "connection to node " +
                                                                         std::to_string(self->node) + " closed"});
      int32_t size = static_cast<int32_t>((uint32_t(self->size_buf[0]) << 24) | (uint32_t(self->size_buf[1]) << 16) |
                                          (uint32_t(self->size_buf[2]) << 8) | uint32_t(self->size_buf[3]));
      if (size < 4 || size > kMaxResponseBytes)
        return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "node " + std::to_string(self->node) +
                                                                   " sent a frame of " + std::to_string(size) +
                                                                   " bytes"});
      self->body.resize(static_cast<size_t>(size));
      asio::async_read(self->socket, asio::buffer(self->body), [self, gen](const boost::system::error_code& ec2, size_t) {
        if (gen != self->generation) return;
        if (ec2) return self->close(Error{ErrorCode::NETWORK_EXCEPTION, "connection to node " +
                                                                            std::to_string(self->node) + " closed"});
        self->on_response();
        // An answer's callback may have closed this connection (and a new one may be
        // connecting): only the connection that read it goes on reading.
        if (gen == self->generation) self->read_size();
      });
    });
  }

  void on_response() {
    wire::Reader r(std::span<const uint8_t>(body.data(), body.size()));
    int32_t correlation = r.read_int32();
    auto it = in_flight.find(correlation);
    if (!r.ok() || it == in_flight.end()) {
      spdlog::warn("node {} answered unknown correlation id {}", node, correlation);
      return;
    }
    Pending p = std::move(it->second);
    in_flight.erase(it);
    p.timer->cancel();
    // The correlation id was read; a flexible response header adds its tagged fields.
    if (msg::response_header_version(p.api_key, p.api_version) >= 1) {
      r = wire::Reader(std::span<const uint8_t>(body.data(), body.size()));
      msg::ResponseHeader h;
      if (!h.decode(r, 1)) return p.done(Error{ErrorCode::CORRUPT_MESSAGE, "bad response header"});
    }
    size_t consumed = body.size() - r.remaining();
    p.done(std::vector<uint8_t>(body.begin() + static_cast<std::ptrdiff_t>(consumed), body.end()));
  }

  void fail_one(int32_t correlation, const Error& e) {
    auto it = in_flight.find(correlation);
    if (it == in_flight.end()) return;
    Pending p = std::move(it->second);
    in_flight.erase(it);
    p.done(e);
  }

  // Fails everything outstanding and resets the connection; the next send reconnects.
  void close(const Error& e) {
    ++generation;
    boost::system::error_code ignore;
    socket.close(ignore);
    state = State::Failed;
    out.clear();
    writing = false;
    auto pending = std::exchange(in_flight, {});
    for (auto& [c, p] : pending) {
      p.timer->cancel();
      p.done(e);
    }
  }
};

}  // namespace

struct PeerClient::Impl {
  explicit Impl(std::string id) : client_id(std::move(id)), loop("kb-peer-client") {}
  const std::string client_id;
  LoopThread loop;
  std::map<int32_t, std::shared_ptr<PeerConnection>> connections;  // loop thread only
  bool stopped = false;                                            // loop thread only
};

PeerClient::PeerClient(std::string client_id) : impl_(std::make_shared<Impl>(std::move(client_id))) {}

PeerClient::~PeerClient() { stop(); }

void PeerClient::stop() {
  impl_->loop.post([impl = impl_.get()] {
    impl->stopped = true;
    for (auto& [node, c] : impl->connections) c->close(Error{ErrorCode::NETWORK_EXCEPTION, "client stopped"});
    impl->connections.clear();
  });
  impl_->loop.stop(std::chrono::seconds(1));
}

void PeerClient::send(int32_t node, const PeerAddress& to, int16_t api_key, int16_t api_version,
                      std::vector<uint8_t> body, int64_t timeout_ms, Callback done) {
  impl_->loop.post([impl = impl_.get(), node, to, api_key, api_version, body = std::move(body), timeout_ms,
                    done = std::move(done)]() mutable {
    if (impl->stopped) return done(Error{ErrorCode::NETWORK_EXCEPTION, "client stopped"});
    auto& c = impl->connections[node];
    if (c && !(c->address == to)) {
      c->close(Error{ErrorCode::NETWORK_EXCEPTION, "node " + std::to_string(node) + " moved"});
      c.reset();
    }
    if (!c) c = std::make_shared<PeerConnection>(impl->loop.context(), node, to, impl->client_id);
    c->enqueue(api_key, api_version, std::move(body), timeout_ms, std::move(done));
  });
}

}  // namespace kb::runtime

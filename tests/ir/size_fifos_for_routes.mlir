// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=128},rdu-size-fifos,rdu-tile,rdu-place{greedy=true},rdu-route,rdu-size-fifos-for-routes' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=128},rdu-size-fifos{depth=2},rdu-tile,rdu-place{greedy=true},rdu-route,rdu-size-fifos-for-routes' | filecheck %s --check-prefix=FORCED
// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-allocate-units,rdu-size-fifos,rdu-size-fifos-for-routes' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=UNROUTED
// After routing, a FIFO holds its route's bandwidth-delay product: ceil(round trip x rate / tile) + 1
// credits. 16 KB values in 128 tiles of 128 bytes on the small chip (64 bytes per cycle per link,
// one cycle per hop): `neg`'s output is routed 3 hops to its buffer, a round trip of 6 cycles, so
// its double buffer grows to ceil(6 x 64 / 128) + 1 = 4 credits; one hop needs no more than two. The
// route records the rate it was routed with: 0.782 of a link, as the kernel is paced by its HBM bytes.
// Every routed stage records its round trips and the credits they need; a buffer's ring already
// holds more (the store's buffer, 5 hops away: 6 credits, of the 128 it rings). A forced depth (rdu-size-fifos{depth=N}) is recorded on the module and wins.

func.func @forward(%x: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = rgraph.exp %x : tensor<64x64xf32> -> tensor<64x64xf32>
  %1 = rgraph.neg %0 : tensor<64x64xf32> -> tensor<64x64xf32>
  %2 = rgraph.abs %0 : tensor<64x64xf32> -> tensor<64x64xf32>
  %3 = rgraph.add %1, %2 : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  func.return %3 : tensor<64x64xf32>
}

// CHECK:      rdu.load %{{.*}} {rdu.route_round_trip = array<i64: 2>, rdu.route_credits = array<i64: 2>, {{.*}}depths = array<i64: 2>,
// CHECK:      rdu.buffer %{{.*}} {rdu.route_round_trip = array<i64: 2>, rdu.route_credits = array<i64: 2>, {{.*}}depths = array<i64: 128>,
// CHECK-NEXT: rdu.compute "exp"({{.*}}rdu.route_round_trip = array<i64: 2>, rdu.route_credits = array<i64: 2>, {{.*}}depths = array<i64: 2>,
// CHECK-NEXT: rdu.buffer
// CHECK-NEXT: rdu.compute "neg"({{.*}}rdu.route_round_trip = array<i64: 6>, rdu.route_credits = array<i64: 4>, {{.*}}depths = array<i64: 4>,{{.*}}routes = [#rdu.route<vector, rate 0.782, hops [3],
// CHECK-NEXT: rdu.compute "abs"({{.*}}rdu.route_round_trip = array<i64: 2>, rdu.route_credits = array<i64: 2>, {{.*}}depths = array<i64: 2>,
// CHECK:      rdu.buffer %{{.*}} {rdu.route_round_trip = array<i64: 10>, rdu.route_credits = array<i64: 6>, {{.*}}depths = array<i64: 128>,{{.*}}hops [5]
// CHECK-NOT:  route_credits_sram_limited

// FORCED:     builtin.module attributes {{{.*}}rdu.forced_fifo_depth = 2 : i64
// FORCED-NOT: rdu.route_credits
// FORCED:     rdu.compute "neg"({{.*}}depths = array<i64: 2>,
// FORCED-NOT: rdu.route_credits

// UNROUTED: error: rdu-size-fifos-for-routes: rdu.load in kernel {{.*}} has no routes: run rdu-route first

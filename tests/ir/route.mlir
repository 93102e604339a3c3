// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-allocate-units,rdu-place{greedy=true},rdu-route' | filecheck %s
// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-route' 2>&1; test $? -eq 2) | filecheck %s --check-prefix=UNPLACED
// Every stream's route is in the IR: hops to each consumer stage in program order, the tree's
// links switch to switch. A stream read by two stages is one multicast tree; a store ends a
// stream, so it has no route of its own.
// Each route records the rate its flow was routed with (backend_rdu.routing.rates: bytes per
// cycle at the kernel's pace, in full-rate streams; printed below 1): 0.5 on this small kernel.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = rgraph.neg %0 : tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = rgraph.abs %0 : tensor<4x8xf32> -> tensor<4x8xf32>
  %3 = rgraph.add %1, %2 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %3 : tensor<4x8xf32>
}

// CHECK:      rdu.load %{{.*}} sites = #rdu.sites<(0, 2)>, routes = [#rdu.route<vector, rate 0.5, hops [1], links [(0, 2) -> (1, 2)]>]}
// CHECK:      %[[E:.*]] = rdu.compute "exp"
// CHECK-NEXT: rdu.buffer %[[E]] {{.*}}sites = #rdu.sites<(1, 0)>, routes = [#rdu.route<vector, rate 0.5, hops [1, 3], links [(1, 0) -> (2, 0), (2, 0) -> (3, 0), (3, 0) -> (4, 0)]>]}
// CHECK-NEXT: rdu.compute "neg"({{.*}}sites = #rdu.sites<(2, 0)>
// CHECK-NEXT: rdu.compute "abs"({{.*}}sites = #rdu.sites<(4, 0)>
// CHECK:      rdu.store {{.*}}routes = []}

// UNPLACED: error: rdu-route: rdu.load in kernel k0_exp has no sites: run rdu-place first

// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos' | filecheck %s
// The residual of size_fifos_too_large.mlir: the short path would have to hold all of x (32 MiB),
// which no FIFO on the small chip can. rdu-size-fifos spills it (passes/spill.py): the kernel is
// split at the join; the sum's one-element result crosses through a new HBM tensor of role spill
// (stored by the first kernel, loaded by the second); x, in HBM already, is loaded again rather
// than written. Both halves get units, tiles and depths again; memory planning places the spill.

func.func @forward(%x: tensor<2048x4096xf32>) -> tensor<2048x4096xf32> {
  %0 = rgraph.sum %x {dims = array<i64: 0, 1>, keepdim = true} : tensor<2048x4096xf32> -> tensor<1x1xf32>
  %1 = rgraph.add %x, %0 : (tensor<2048x4096xf32>, tensor<1x1xf32>) -> tensor<2048x4096xf32>
  func.return %1 : tensor<2048x4096xf32>
}

// CHECK:      %[[X:[0-9]+]] = rdu.tensor "x" {role = #rdu.role<input>
// CHECK:      %[[OUT:[0-9]+]] = rdu.tensor "output0"
// CHECK-NEXT: %[[SPILL:[0-9]+]] = rdu.tensor "k0_sum_x2.spill0" {role = #rdu.role<spill>, tier = #rdu.tier<hbm>, offset = {{[0-9]+}} : i64} : !rdu.mem<1x1xf32>
// CHECK-NEXT: rdu.kernel "k0_sum_x2" {
// CHECK-NEXT:   %[[L:[0-9]+]] = rdu.load %[[X]]
// CHECK-NEXT:   %[[B:[0-9]+]] = rdu.buffer %[[L]]
// CHECK-NEXT:   %[[SUM:[0-9]+]] = rdu.compute "sum"(%[[B]])
// CHECK-NEXT:   %[[SB:[0-9]+]] = rdu.buffer %[[SUM]]
// CHECK-NEXT:   rdu.store %[[SB]] to %[[SPILL]] {units = 1 : i64
// CHECK-NEXT: }
// CHECK-NEXT: rdu.kernel "k0_sum_x2.part1" {
// CHECK-NEXT:   %[[XL:[0-9]+]] = rdu.load %[[X]] {units = {{[0-9]+}} : i64, tiles = array<i64: [[T:[0-9]+]]>
// CHECK-NEXT:   %[[XB:[0-9]+]] = rdu.buffer %[[XL]] {{{.*}}tile_bytes = [[T]] : i64
// CHECK-NEXT:   %[[SL:[0-9]+]] = rdu.load %[[SPILL]] {units = 1 : i64, tiles = array<i64: 4>, depths = array<i64: 2>}
// CHECK-NEXT:   %[[SLB:[0-9]+]] = rdu.buffer %[[SL]]
// CHECK-NEXT:   %[[ADD:[0-9]+]] = rdu.compute "add"(%[[XB]], %[[SLB]])
// CHECK-NEXT:   %[[AB:[0-9]+]] = rdu.buffer %[[ADD]]
// CHECK-NEXT:   rdu.store %[[AB]] to %[[OUT]]
// CHECK-NEXT: }
// CHECK-NOT:  rdu.kernel

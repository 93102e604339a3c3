// RUN: (rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos{spill=false}' 2>&1; test $? -eq 2) | filecheck %s
// A residual whose short path must hold all of x (32 MiB) while the sum reads it cannot fit the
// small chip's PMUs: with spill=false the cycle is named by stage and stream, with bytes needed vs
// available (the default spills the branch through HBM instead: size_fifos_spill.mlir).

func.func @forward(%x: tensor<2048x4096xf32>) -> tensor<2048x4096xf32> {
  %0 = rgraph.sum %x {dims = array<i64: 0, 1>, keepdim = true} : tensor<2048x4096xf32> -> tensor<1x1xf32>
  %1 = rgraph.add %x, %0 : (tensor<2048x4096xf32>, tensor<1x1xf32>) -> tensor<2048x4096xf32>
  func.return %1 : tensor<2048x4096xf32>
}

// CHECK: error: rdu-size-fifos: deadlock cycle in kernel k0_sum_x2: k0_sum_x2/buffer reaches k0_sum_x2/add through k0_sum_x2/sum (the long path takes 1200 more tiles of output 0 of k0_sum_x2/buffer before the join sees a tile) and through stream output 0 of k0_sum_x2/buffer, whose FIFO needs 1201 tiles x 27944 bytes = {{[0-9]+}} bytes per PMU but a PMU has 65536 bytes of SRAM ({{[0-9]+}} PMUs free in the kernel)
// CHECK-NOT: error

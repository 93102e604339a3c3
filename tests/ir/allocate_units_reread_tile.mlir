// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile' | filecheck %s
// A matmul whose stationary operand has no buffer (A comes from a PMU layout stage, as attention's
// output reaches the `o` projection) holds one tile row of A: the 2 MB weight is re-read from HBM
// once per `mt` rows. rdu-allocate-units prices each candidate output tile with the memory time
// of those re-reads (`reread_cycles`), so it takes a tall tile: 102 rows, 11 passes. Priced by its
// loop alone it took 16 rows and re-read the weight 64 times.

func.func @forward(%x: tensor<1024x4x64xf32>, %w: tensor<2048x256xf32>) -> tensor<1024x2048xf32> {
  %0 = rgraph.full {value = 2.000000e+00 : f64} : tensor<f32>
  %1 = rgraph.mul %x, %0 : (tensor<1024x4x64xf32>, tensor<f32>) -> tensor<1024x4x64xf32>
  %2 = rgraph.reshape %1 : tensor<1024x4x64xf32> -> tensor<1024x256xf32>
  %3 = rgraph.linear %2, %w : (tensor<1024x256xf32>, tensor<2048x256xf32>) -> tensor<1024x2048xf32>
  func.return %3 : tensor<1024x2048xf32>
}

// CHECK: rdu.compute "reshape"
// CHECK: rdu.load {{.*}}passes 11>
// CHECK: rdu.compute "linear"({{.*}}tile_loop = #rdu.tile_loop<matmul, grid [1, 11, {{[0-9]+}}, {{[0-9]+}}], tile [102, {{[0-9]+}}, {{[0-9]+}}], order "b,m,n,k", reduce "k-accumulate", reuse "a", restream "b", passes 11>

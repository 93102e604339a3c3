// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units' | filecheck %s --check-prefix=ALLOC
// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile' | filecheck %s
// The fallback: Q, Kᵀ and V of 384 KB each need 6 of the small chip's 64 KB PMUs each, 18 of its
// 24, and the kernel's nine other PMU stages need one each: rdu-allocate-units cannot reserve them
// (nothing is marked `resident`, the PMUs are balanced as usual), so rdu-tile keeps attention's
// output transpose whole (`whole` on the permute, a whole tile program) and both matmuls in their
// usual order.

func.func @forward(%q: tensor<2x768x64xf32>, %kt: tensor<2x64x768xf32>, %v: tensor<2x768x64xf32>, %w: tensor<128x1024xf32>, %w2: tensor<1024x512xf32>) -> tensor<768x512xf32> {
  %0 = rgraph.matmul %q, %kt : (tensor<2x768x64xf32>, tensor<2x64x768xf32>) -> tensor<2x768x768xf32>
  %1 = rgraph.softmax %0 {dim = 2 : i64} : tensor<2x768x768xf32> -> tensor<2x768x768xf32>
  %2 = rgraph.matmul %1, %v : (tensor<2x768x768xf32>, tensor<2x768x64xf32>) -> tensor<2x768x64xf32>
  %3 = rgraph.permute %2 {dims = array<i64: 1, 0, 2>} : tensor<2x768x64xf32> -> tensor<768x2x64xf32>
  %4 = rgraph.reshape %3 : tensor<768x2x64xf32> -> tensor<768x128xf32>
  %5 = rgraph.matmul %4, %w : (tensor<768x128xf32>, tensor<128x1024xf32>) -> tensor<768x1024xf32>
  %6 = rgraph.matmul %5, %w2 : (tensor<768x1024xf32>, tensor<1024x512xf32>) -> tensor<768x512xf32>
  func.return %6 : tensor<768x512xf32>
}

// ALLOC-NOT: resident
// CHECK-NOT: resident
// CHECK: rdu.compute "matmul"({{.*}}order "b,m,n,k"
// CHECK: rdu.compute "matmul"({{.*}}order "b,m,n,k"
// CHECK: rdu.compute "permute"(%{{[0-9]+}}) {whole, {{.*}}tile_loop = #rdu.tile_loop<whole,

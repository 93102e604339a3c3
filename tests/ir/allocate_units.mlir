// RUN: rducc opt %s -p 'rdu-target{chip=small},rdu-lower,rdu-allocate-units,rdu-place' | filecheck %s
// Units follow the work: the matmul takes all 24 PCUs, the add (8192 elements / 16 lanes = 512 cycles) two. Every unit gets a site of its kind.

func.func @forward(%a: tensor<64x128xf32>, %b: tensor<128x128xf32>) -> tensor<64x128xf32> {
  %0 = rgraph.matmul %a, %b : (tensor<64x128xf32>, tensor<128x128xf32>) -> tensor<64x128xf32>
  %1 = rgraph.add %0, %0 : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x128xf32>
  func.return %1 : tensor<64x128xf32>
}

// CHECK: rdu.kernel "k0_matmul"
// CHECK:   rdu.compute "matmul"({{.*}}) {unit = #rdu.unit<pcu>, params = {}, units = 24 : i64, tiles = array<i64: {{[0-9]+}}>, depths = array<i64: 2>, sites = #rdu.sites<({{[0-9]+}}, {{[0-9]+}})
// CHECK: rdu.kernel "k1_add"
// CHECK:   rdu.compute "add"({{.*}}) {unit = #rdu.unit<pcu>, params = {}, units = 2 : i64

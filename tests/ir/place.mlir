// RUN: rducc opt %s -p 'rdu-lower{chip=small},rdu-allocate-units,rdu-place' | filecheck %s
// RUN: rducc opt %s -p 'rdu-lower{chip=small},rdu-allocate-units,rdu-place{greedy=true}' | filecheck %s --check-prefix=GREEDY
// Every stage gets one site per unit; the placement summary is kept for the manifest.

func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}

// CHECK: builtin.module attributes {rdu.chip = "small", rdu.placement = "{{.*}}method{{.*}}cp-sat windows
// CHECK: rdu.load %{{.*}} {units = 1 : i64, sites = array<i64: {{(0|9)}}, {{[0-9]}}>}
// CHECK: rdu.compute "exp"(%{{.*}}) {unit = "pcu", params = {}, units = 1 : i64, sites = array<i64: {{[0-9]+}}, {{[0-9]+}}>}
// CHECK: rdu.store {{.*}}sites = array<i64: {{(0|9)}}, {{[0-9]}}>

// GREEDY: rdu.placement = "{{.*}}method{{.*}}greedy
// GREEDY: rdu.compute "exp"({{.*}}sites = array<i64:

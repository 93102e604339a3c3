// RUN: rducc opt %s -p 'rdu-target{chip=small},canonicalize,rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | filecheck %s
// RUN: rducc opt %s -p 'rdu-target{chip=small},canonicalize,rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{tile-bytes=256},rdu-size-fifos,rdu-tile' | rducc opt | filecheck %s
// An indexed row load: an embedding of 2 token ids out of a 1024-row table lowers to an AGCU
// `rdu.load_rows` that reads only the 2 rows the ids (a stream, at run time) pick, not a load of
// the 256 KB table into a PMU lookup. Its tile program walks the rows' 512 bytes (2 tiles of 256),
// its pattern's extent is the whole table (the range the ids pick in). An index_select of 4 of
// the table's rows is the same stage along its dim; one that names as many entries as the table
// has rows (here 1024, a permutation) stays a whole-table load and a PMU stage.

func.func @forward(%ids: tensor<1x2xi64>, %pick: tensor<4xi64>, %all: tensor<1024xi64>) -> (tensor<1x2x64xf32>, tensor<64x4xf32>, tensor<1024x64xf32>) {
  %table = rgraph.weight "table" : tensor<1024x64xf32>
  %cols = rgraph.weight "cols" : tensor<64x16xf32>
  %0 = rgraph.embedding %table, %ids : (tensor<1024x64xf32>, tensor<1x2xi64>) -> tensor<1x2x64xf32>
  %1 = rgraph.index_select %cols, %pick {dim = 1 : i64} : (tensor<64x16xf32>, tensor<4xi64>) -> tensor<64x4xf32>
  %2 = rgraph.index_select %table, %all {dim = 0 : i64} : (tensor<1024x64xf32>, tensor<1024xi64>) -> tensor<1024x64xf32>
  func.return %0, %1, %2 : tensor<1x2x64xf32>, tensor<64x4xf32>, tensor<1024x64xf32>
}

// CHECK:      %[[IDS:[0-9]+]] = rdu.tensor "ids" {role = #rdu.role<input>
// CHECK:      %[[PICK:[0-9]+]] = rdu.tensor "pick" {role = #rdu.role<input>
// CHECK:      %[[ALL:[0-9]+]] = rdu.tensor "all" {role = #rdu.role<input>
// CHECK:      %[[T:[0-9]+]] = rdu.tensor "table" {role = #rdu.role<weight>, tier = #rdu.tier<hbm>, offset = [[TOFF:[0-9]+]] : i64{{.*}}} : !rdu.mem<1024x64xf32>
// CHECK:      %[[C:[0-9]+]] = rdu.tensor "cols" {role = #rdu.role<weight>
// CHECK:      rdu.kernel
// CHECK:        %[[I:[0-9]+]] = rdu.load %[[IDS]]
// CHECK-NEXT:   rdu.load_rows %[[I]] from %[[T]] {units = 1 : i64, {{.*}}dim = 0 : i64, {{.*}}tile_loop = #rdu.tile_loop<stream, grid [2], tile [256], order "tiles", reduce "none", reuse "">, patterns = [#rdu.pattern<hbm, offset [[TOFF]], stride 256, count 2, tile 256, extent 262144>]} : !rdu.stream<1x2xi64>, !rdu.mem<1024x64xf32> -> !rdu.stream<1x2x64xf32>
// CHECK-NOT:    rdu.compute "embedding"
// CHECK:        %[[P:[0-9]+]] = rdu.load %[[PICK]]
// CHECK-NEXT:   rdu.load_rows %[[P]] from %[[C]] {{{.*}}dim = 1 : i64{{.*}}} : !rdu.stream<4xi64>, !rdu.mem<64x16xf32> -> !rdu.stream<64x4xf32>
// CHECK-DAG:    rdu.load %[[T]]
// CHECK-DAG:    rdu.load %[[ALL]]
// CHECK:        rdu.compute "index_select"

/**
 * Data for training, in the order `gradc train` uses it: describe the model's rows
 * (layout.ts), read a data file into them (read.ts: CSV / TSV streamed, JSON, JSON
 * Lines; columns.ts says which column feeds which field), split off validation rows
 * with a seed (split.ts), scale inputs and regression targets with statistics of the
 * training rows (scale.ts); write predictions back as CSV (write.ts). Every problem with the user's data is a GradcError with
 * the file, line, column and text.
 */
export { rowLayout, shapeText, type Field, type InputRows, type ModuleShapes, type RowLayout, type Rows } from './layout.js';
export { formatOf, parseInputRows, parseRows, readInputRows, readRows, type DataFormat, type ReadOptions } from './read.js';
export { checkColumns, parseColumns, type ColumnMap } from './columns.js';
export { mulberry32, splitRows, type Split } from './split.js';
export { checkScaling, computeScaling, parseScaleMethod, scaleRows, unscaleRows, unscaleValue, type FieldScaling, type ScaleMethod, type Scaling } from './scale.js';
export { csvHeader, csvLines, writeCsv } from './write.js';

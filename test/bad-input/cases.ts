// The bad-input table: every public function and option of clfs, called with
// what it must refuse. Each case names the function, the input in words and
// the code it must fail with ('ok' where the call must simply work, such as
// a second close()). The parts live beside this file, by API area.
import {
  allocatorCases,
  addContainersCases,
  spaceCases,
  closedLogCases,
  createAreaCases,
  logCreateCases,
  logDeleteCases,
  logOpenCases,
} from './cases-log.ts';
import {
  appendBatchCases,
  closedAreaCases,
  flushCases,
  reservationCases,
  reserveAndAppendCases,
  restartAndBaseCases,
} from './cases-area.ts';
import { contextCases, readLogRecordCases } from './cases-read.ts';
import { directFileCases, lsnCases, memoryCases } from './cases-native.ts';
import type { Clfs } from './fixture.ts';
import type { Case } from './runner.ts';

export function buildCases(clfs: Clfs): Case[] {
  return [
    ...logCreateCases(),
    ...logOpenCases(),
    ...logDeleteCases(),
    ...createAreaCases(),
    ...allocatorCases(clfs),
    ...addContainersCases(),
    ...spaceCases(),
    ...reserveAndAppendCases(clfs),
    ...appendBatchCases(),
    ...reservationCases(),
    ...flushCases(clfs),
    ...readLogRecordCases(clfs),
    ...contextCases(clfs),
    ...restartAndBaseCases(clfs),
    ...closedAreaCases(),
    ...closedLogCases(),
    ...lsnCases(clfs),
    ...memoryCases(clfs),
    ...directFileCases(clfs),
  ];
}

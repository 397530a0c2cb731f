import { Link } from '../link.tsx';
import { Notice } from '../field.tsx';
import { refusalSummary, type LimitRefusal } from '../../lib/limits.ts';

/**
 * Why the last reply did not come: a limit's refusal (which limit, when it resets, the question
 * kept) or another failure with Try again. Nothing for a missing credential (said at the top).
 */
export function ReplyNotice({
  error,
  refusal,
  draftKept,
  onTryAgain,
}: {
  error: { code: string; message: string } | null;
  refusal: LimitRefusal | null;
  draftKept: boolean;
  /** Absent while nothing can be tried again (a reply streams, nothing was sent). */
  onTryAgain: (() => void) | null;
}) {
  if (!error || error.code === 'no_credentials') return null;
  if (refusal?.code === error.code)
    return (
      <Notice kind="warning">
        <p>{refusal.message}</p>
        {refusal.details ? <p className="refusal">{refusalSummary(refusal.details)}</p> : null}
        <p className="refusal">
          {draftKept ? 'Your message is kept in the box below. ' : ''}
          <Link to="/limits">See my limits</Link>
        </p>
      </Notice>
    );
  return (
    <Notice kind="error">
      {error.message}{' '}
      {onTryAgain ? (
        <button type="button" className="button small" onClick={onTryAgain}>
          Try again
        </button>
      ) : null}
    </Notice>
  );
}

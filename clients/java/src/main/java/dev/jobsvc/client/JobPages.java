package dev.jobsvc.client;

import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.ListJobsRequest;
import dev.jobsvc.v1.ListJobsResponse;
import java.util.Collections;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Function;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/** The jobs of every page of a ListJobs query, fetched one page at a time as they are read. */
final class JobPages implements Iterator<Job> {

  private final Function<ListJobsRequest, ListJobsResponse> fetch;
  private ListJobsRequest request;
  private Iterator<Job> page = Collections.emptyIterator();
  private boolean lastPage;

  private JobPages(ListJobsRequest request, Function<ListJobsRequest, ListJobsResponse> fetch) {
    this.request = request;
    this.fetch = fetch;
  }

  /** A lazy stream of the jobs of {@code request} and the pages after it. */
  static Stream<Job> stream(ListJobsRequest request, Function<ListJobsRequest, ListJobsResponse> fetch) {
    Iterator<Job> jobs = new JobPages(request, fetch);
    return StreamSupport.stream(
        Spliterators.spliteratorUnknownSize(jobs, Spliterator.ORDERED | Spliterator.NONNULL), false);
  }

  @Override
  public boolean hasNext() {
    while (!page.hasNext() && !lastPage) {
      ListJobsResponse response = fetch.apply(request);
      page = response.getJobsList().iterator();
      lastPage = response.getNextPageToken().isEmpty();
      request = request.toBuilder().setPageToken(response.getNextPageToken()).build();
    }
    return page.hasNext();
  }

  @Override
  public Job next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return page.next();
  }
}

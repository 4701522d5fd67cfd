// Wake-up lateness of clock_nanosleep(TIMER_ABSTIME) on this machine: the floor under any
// sleep-based pacer (issue 19). Build and run: gcc -O2 -o /tmp/timer_floor bench/timer_floor.c && /tmp/timer_floor 500 20000
//
// Usage: timer_floor [period_us] [count]. Prints p50/p90/p99/p99.9/max lateness.
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return (x>y)-(x<y);}
int main(int argc,char**argv){
  long period=argc>1?atol(argv[1]):500, n=argc>2?atol(argv[2]):20000;
  long *late=malloc(sizeof(long)*n); struct timespec t,now;
  clock_gettime(CLOCK_MONOTONIC,&t);
  for(long i=0;i<n;i++){
    t.tv_nsec+=period*1000; while(t.tv_nsec>=1000000000){t.tv_nsec-=1000000000;t.tv_sec++;}
    clock_nanosleep(CLOCK_MONOTONIC,TIMER_ABSTIME,&t,NULL);
    clock_gettime(CLOCK_MONOTONIC,&now);
    late[i]=(now.tv_sec-t.tv_sec)*1000000000L+(now.tv_nsec-t.tv_nsec);
  }
  qsort(late,n,sizeof(long),cmp);
  printf("period %ld us, n %ld: lateness p50 %.1f us, p90 %.1f, p99 %.1f, p99.9 %.1f, max %.1f\n",period,n,
    late[n/2]/1e3,late[n*9/10]/1e3,late[n*99/100]/1e3,late[n*999/1000]/1e3,late[n-1]/1e3);
  return 0;
}
